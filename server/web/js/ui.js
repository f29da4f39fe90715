// ui.js: small DOM helpers shared by the pages: an element builder (text always goes in as text nodes,
// never parsed as HTML), the page frame (header with navigation, language switch, log out), notices, and the
// login form.
import { t, getLang, setLang, LANGS, applyDocument } from "./i18n.js";
import { api, errorText, saveSession, clearSession, session } from "./api.js";

// h("button", {class: "primary", on: {click: fn}}, "text", child, [more])
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith("svg:");
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else if (k === "text") node.textContent = v;
    else if (k === "class") node.setAttribute("class", v);
    else if (k === "value" && !svg) node.value = v;
    else if (k === "checked" || k === "disabled" || k === "selected") node[k] = Boolean(v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// kind: info, ok, warn, error. Errors are announced at once (role=alert), the rest politely.
export function notice(kind, text, attrs) {
  return h("p", Object.assign({ class: "notice notice-" + kind, role: kind === "error" ? "alert" : "status" }, attrs || {}), text);
}

export function heading(level, text, attrs) {
  return h("h" + level, Object.assign({ tabindex: "-1" }, attrs || {}), text);
}

// The Estiva mark: a cedar over a wave, drawn as SVG (no image file, no external font).
function logo() {
  const svg = h("svg:svg", { viewBox: "0 0 32 32", width: 32, height: 32, "aria-hidden": "true", class: "logo" });
  svg.appendChild(h("svg:rect", { x: 0, y: 0, width: 32, height: 32, rx: 7, class: "logo-bg" }));
  svg.appendChild(h("svg:path", { d: "M16 4 L24 15 H19 L25 22 H7 L13 15 H8 Z", class: "logo-tree" }));
  svg.appendChild(h("svg:path", { d: "M5 27 Q10 23 16 27 T27 27", class: "logo-wave" }));
  return svg;
}

export function langSwitch() {
  const names = { fr: "Français", ar: "العربية" }; // each language named in itself
  return h(
    "div",
    { class: "lang", role: "group", "aria-label": t("lang.choose") },
    LANGS.map((l) =>
      h(
        "button",
        {
          type: "button",
          lang: l,
          dir: l === "ar" ? "rtl" : "ltr",
          "aria-pressed": String(l === getLang()),
          "data-lang": l,
          on: { click: () => setLang(l) },
        },
        names[l]
      )
    )
  );
}

// The page frame. links: [{href, key, current}]; onLogout: shown when someone is logged in.
export function frame(opts) {
  const top = clear(document.getElementById("top"));
  const s = session();
  const nav = h(
    "nav",
    { class: "nav", "aria-label": t("nav.label") },
    h(
      "ul",
      null,
      (opts.links || []).map((l) =>
        h("li", null, h("a", { href: l.href, "aria-current": l.current ? "page" : null }, t(l.key)))
      )
    )
  );
  top.appendChild(
    h(
      "div",
      { class: "bar" },
      h("a", { class: "brand", href: "/" }, logo(), h("span", { class: "brand-name" }, "Estiva"),
        h("span", { class: "brand-tag" }, t("brand.tagline"))),
      h(
        "div",
        { class: "bar-tools" },
        langSwitch(),
        s && opts.onLogout
          ? h("button", { type: "button", class: "link", id: "logout", on: { click: opts.onLogout } }, t("nav.logout"))
          : null
      )
    )
  );
  if (s && opts.links && opts.links.length) top.appendChild(nav);
  const foot = clear(document.getElementById("foot"));
  foot.appendChild(h("p", null, t("footer.text")));
  applyDocument();
  document.title = t(opts.titleKey) + " — Estiva";
}

// Moves the focus to the view's heading, so keyboard and screen reader users start there.
export function focusHeading(main) {
  const hd = main.querySelector("h1, h2");
  if (hd) hd.focus({ preventScroll: false });
}

let fieldSeq = 0;
// A labelled field: h("label") + input, with an optional hint tied by aria-describedby.
export function field(labelText, input, hint) {
  if (!input.id) input.id = "f" + ++fieldSeq;
  const parts = [h("label", { for: input.id }, labelText), input];
  if (hint) {
    const hid = input.id + "-hint";
    input.setAttribute("aria-describedby", hid);
    parts.push(h("p", { class: "hint", id: hid }, hint));
  }
  return h("div", { class: "field" }, parts);
}

// The login form. Members log in with their member number, staff with their user name.
export function loginForm(onDone, intro) {
  const who = h("input", { name: "member", id: "login-member", autocomplete: "username", required: true, maxlength: 64,
    inputmode: "text", spellcheck: "false", autocapitalize: "off" });
  const pw = h("input", { name: "password", id: "login-password", type: "password", autocomplete: "current-password",
    required: true, maxlength: 256 });
  const msg = h("div", { class: "form-msg", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "primary", id: "login-submit" }, t("login.submit"));
  const form = h(
    "form",
    { class: "card login", id: "login-form", novalidate: true },
    heading(1, t("login.title")),
    intro ? h("p", null, intro) : null,
    field(t("login.member"), who, t("login.member_hint")),
    field(t("login.password"), pw),
    msg,
    button
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(msg);
    if (!who.value.trim() || !pw.value) {
      msg.appendChild(notice("error", t("login.missing")));
      (who.value.trim() ? pw : who).focus();
      return;
    }
    button.disabled = true;
    try {
      const r = await api("POST", "/api/v1/session", { member: who.value.trim(), password: pw.value });
      saveSession({ csrf: r.csrf_token, role: r.role, member: r.member, user: r.user, centres: r.centres || [] });
      onDone(session());
    } catch (err) {
      msg.appendChild(notice("error", errorText(err)));
      pw.value = "";
      pw.focus();
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export async function logout(after) {
  try {
    await api("DELETE", "/api/v1/session");
  } catch (e) {
    // the session may already be gone: forget it here all the same
  }
  clearSession();
  after();
}

// A table from column definitions: [{key (i18n) or label (text), cell: row => node|string, num, rowHeader}].
// opts: {label (for the scrolling region), caption, id, empty (text when there is no row)}.
export function table(columns, rows, opts) {
  const o = opts || {};
  if (!rows.length && o.empty) return h("p", { class: "empty", id: o.id }, o.empty);
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": o.label || o.caption },
    h(
      "table",
      { id: o.id },
      o.caption ? h("caption", null, o.caption) : null,
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label !== undefined ? c.label : t(c.key))))),
      h(
        "tbody",
        null,
        rows.map((r) =>
          h(
            "tr",
            null,
            columns.map((c) => {
              const v = c.cell(r);
              return c.rowHeader ? h("th", { scope: "row" }, v) : h("td", { class: c.num ? "num" : null }, v);
            })
          )
        )
      )
    )
  );
}

// A button-styled link that downloads a CSV export (the session cookie goes with it: same origin).
export function csvLink(href, id) {
  return h("a", { class: "button secondary csv", href, download: "", id }, t("common.csv"));
}
