// account.js: a member's own account (account.html): ask for an activation link (member number and
// CIN or the e-mail address on file) or a reset link, choose a password from the link received
// (#activate=TOKEN, #reset=TOKEN), confirm a new e-mail address (#email=TOKEN), and, logged in,
// change one's password, e-mail, phone, language of messages and reminders. The token is read from
// the address once and removed from it (and from the history) at once; the page sends no Referer.
import { t, onLangChange } from "./i18n.js";
import { api, errorText, session } from "./api.js";
import { h, clear, notice, heading, frame, field, focusHeading, logout } from "./ui.js";

const main = document.getElementById("main");
let link = null; // {purpose, token} from the address, kept in memory only

// At load and at every change of the address (a link opened in a tab already on this page).
function takeLink() {
  const m = /^#(activate|reset|email)=([0-9a-f]{64})$/.exec(location.hash);
  if (!m) return;
  link = { purpose: m[1], token: m[2] };
  history.replaceState(null, "", location.pathname + (m[1] === "email" ? "#/email" : "#/password"));
}

function drawFrame() {
  frame({
    titleKey: "account.title",
    links: session() ? [{ href: "/#/", key: "nav.centres" }, { href: "#/settings", key: "login.settings", current: true }] : [],
    onLogout: () => logout(() => location.assign("/")),
  });
}

function input(attrs) {
  return h("input", Object.assign({ required: true, spellcheck: "false", autocapitalize: "off" }, attrs));
}

// A form whose submit runs fn(msg) with the message area cleared and the button off meanwhile.
function form(id, title, intro, fields, buttonKey, fn) {
  const msg = h("div", { class: "form-msg", "aria-live": "polite", id: id + "-msg" });
  const button = h("button", { type: "submit", class: "primary", id: id + "-submit" }, t(buttonKey));
  const f = h("form", { class: "card login", id, novalidate: true }, title ? heading(1, title) : null,
    intro ? h("p", null, intro) : null, fields, msg, button);
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(msg);
    button.disabled = true;
    try {
      await fn(msg);
    } catch (err) {
      msg.appendChild(notice("error", errorText(err)));
    } finally {
      button.disabled = false;
    }
  });
  return f;
}

function viewAsk(activate) {
  const member = input({ id: "acct-member", autocomplete: "username", maxlength: 64 });
  const other = input({ id: "acct-other", maxlength: 254 });
  const fields = activate
    ? [field(t("account.member"), member), field(t("account.cin_or_email"), other, t("account.cin_hint"))]
    : [field(t("account.member_or_email"), member)];
  main.appendChild(form("acct-ask", t(activate ? "account.activate_title" : "account.forgot_title"),
    t(activate ? "account.activate_intro" : "account.forgot_intro"), fields, "account.send", async (msg) => {
      const a = member.value.trim();
      const b = other.value.trim();
      if (!a || (activate && !b)) {
        msg.appendChild(notice("error", t(activate ? "account.missing" : "account.missing_one")));
        return;
      }
      const body = activate ? { member: a } : a.includes("@") ? { email: a } : { member: a };
      if (activate) body[b.includes("@") ? "email" : "cin"] = b;
      const r = await api("POST", activate ? "/api/v1/account/activate" : "/api/v1/account/reset", body);
      msg.appendChild(notice("ok", t("account.sent", { minutes: r.minutes }), { id: "acct-sent" }));
    }));
}

function passwordFields(prefix) {
  const pw = h("input", { id: prefix + "-password", type: "password", autocomplete: "new-password", required: true, maxlength: 1023 });
  const again = h("input", { id: prefix + "-again", type: "password", autocomplete: "new-password", required: true, maxlength: 1023 });
  return { pw, again, nodes: [field(t("account.password"), pw, t("account.set_intro")), field(t("account.password_again"), again)] };
}

// Checks the browser can make before asking the server (which checks again): a message key or null.
function passwordProblem(p) {
  if ([...p.pw.value].length < 10) return "account.too_short";
  if (p.pw.value !== p.again.value) return "account.mismatch";
  return null;
}

function noLink() {
  main.appendChild(h("section", { class: "card" }, heading(1, t("account.title")), notice("warn", t("account.no_link")),
    h("p", null, h("a", { href: "#/forgot" }, t("account.ask_again")))));
}

function viewPassword() {
  if (!link || link.purpose === "email") return noLink();
  const p = passwordFields("acct");
  main.appendChild(form("acct-set", t("account.set_title"), null, p.nodes, "account.save_password", async (msg) => {
    const problem = passwordProblem(p);
    if (problem) {
      msg.appendChild(notice("error", t(problem)));
      return;
    }
    await api("POST", "/api/v1/account/password", { token: link.token, password: p.pw.value });
    link = null;
    clear(main).appendChild(h("section", { class: "card" }, heading(1, t("account.set_title")),
      notice("ok", t("account.password_set"), { id: "acct-done" }),
      h("p", null, h("a", { class: "button primary", href: "/", id: "acct-login" }, t("account.to_login")))));
    focusHeading(main);
  }));
}

function viewEmail() {
  if (!link || link.purpose !== "email") return noLink();
  main.appendChild(form("acct-email", t("account.email_title"), t("account.email_intro"), [], "account.email_confirm", async () => {
    const r = await api("POST", "/api/v1/account/email", { token: link.token });
    link = null;
    clear(main).appendChild(h("section", { class: "card" }, heading(1, t("account.email_title")),
      notice("ok", t("account.email_done", { email: r.email }), { id: "acct-done" })));
    focusHeading(main);
  }));
}

async function viewSettings() {
  if (!session()) {
    main.appendChild(h("section", { class: "card" }, heading(1, t("account.settings_title")), notice("info", t("account.need_login")),
      h("p", null, h("a", { class: "button primary", href: "/" }, t("account.to_login")))));
    return;
  }
  let me;
  try {
    me = (await api("GET", "/api/v1/me")).member;
  } catch (err) {
    main.appendChild(notice("error", errorText(err)));
    return;
  }
  if (!me) {
    location.replace("/manage.html");
    return;
  }
  main.appendChild(heading(1, t("account.settings_title")));
  const email = input({ id: "acct-email-field", type: "email", autocomplete: "email", maxlength: 254, value: me.email });
  const phone = input({ id: "acct-phone", type: "tel", autocomplete: "tel", maxlength: 31, value: me.phone });
  const locale = h("select", { id: "acct-locale" }, ["fr", "ar"].map((l) =>
    h("option", { value: l, selected: (me.locale || "fr") === l }, t("lang." + l))));
  const reminders = h("input", { type: "checkbox", id: "acct-reminders", checked: me.reminders !== false });
  main.appendChild(form("acct-contact", null, h("strong", null, t("account.contact_title")), [
    field(t("account.email"), email, t("account.email_hint")), field(t("account.phone"), phone),
    field(t("account.locale"), locale),
    h("div", { class: "field" }, h("label", { for: "acct-reminders" }, reminders, " ", t("account.reminders"))),
  ], "account.save", async (msg) => {
    const r = await api("PATCH", "/api/v1/me", { email: email.value.trim(), phone: phone.value.trim(), locale: locale.value, reminders: reminders.checked });
    msg.appendChild(notice("ok", r.email_pending ? t("account.email_pending", { email: r.email_pending }) : t("account.saved"), { id: "acct-saved" }));
    email.value = r.email;
  }));
  const cur = h("input", { id: "acct-current", type: "password", autocomplete: "current-password", required: true, maxlength: 1023 });
  const p = passwordFields("acct-new");
  main.appendChild(form("acct-change", null, h("strong", null, t("account.change_title")),
    [field(t("account.current"), cur), p.nodes], "account.save_password", async (msg) => {
      const problem = passwordProblem(p);
      if (problem) {
        msg.appendChild(notice("error", t(problem)));
        return;
      }
      await api("POST", "/api/v1/me/password", { current: cur.value, password: p.pw.value });
      cur.value = p.pw.value = p.again.value = "";
      msg.appendChild(notice("ok", t("account.changed"), { id: "acct-changed" }));
    }));
}

function route() {
  takeLink();
  drawFrame();
  clear(main);
  const hash = location.hash;
  if (hash === "#/password") viewPassword();
  else if (hash === "#/email") viewEmail();
  else if (hash === "#/forgot") viewAsk(false);
  else if (hash === "#/settings") viewSettings();
  else viewAsk(true);
  focusHeading(main);
}

window.addEventListener("hashchange", route);
onLangChange(route);
route();
