// admin.js: the administrators' page (admin.html): every centre (each opens its dashboard), the member
// search, the gates (list; add, which shows the one-time enrolment code once; revoke) and the pass
// signing keys. Gate routes are those of docs/sync.md; when the server has none yet, the page says so.
import { t, onLangChange, fmtInstant, fmtNumber, nameOf } from "./i18n.js";
import { api, errorText, session, onSessionExpired, ApiError } from "./api.js";
import { h, clear, notice, heading, frame, field, loginForm, logout, focusHeading, table } from "./ui.js";

const main = document.getElementById("main");
const state = { me: null, centres: [], q: "", code: null };

function drawFrame() {
  frame({
    titleKey: "admin.title",
    links: state.me
      ? [{ href: "/manage.html", key: "nav.dashboard", current: false }, { href: "/admin.html", key: "nav.admin", current: true }]
      : [],
    onLogout: () => logout(() => showLogin(false)),
  });
}

function showLogin(expired) {
  state.me = null;
  drawFrame();
  clear(main);
  if (expired) main.appendChild(notice("warn", t("err.session_expired"), { id: "session-expired" }));
  main.appendChild(loginForm(() => boot(), t("login.intro_staff")));
  const input = document.getElementById("login-member");
  if (input) input.focus();
}

onSessionExpired(() => showLogin(true));
onLangChange(() => (state.me ? render() : showLogin(false)));

async function boot() {
  if (!session()) return showLogin(false);
  try {
    state.me = await api("GET", "/api/v1/me");
    state.centres = (await api("GET", "/api/v1/centres")).centres;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin(true);
    drawFrame();
    clear(main).appendChild(notice("error", errorText(err)));
    return;
  }
  render();
}

function render() {
  drawFrame();
  clear(main);
  main.appendChild(heading(1, t("admin.title")));
  if (state.me.role !== "admin") {
    main.appendChild(notice("error", t("admin.only_admins"), { id: "forbidden" }));
    main.appendChild(h("p", null, h("a", { class: "button primary", href: state.me.role === "member" ? "/" : "/manage.html" },
      t(state.me.role === "member" ? "manage.to_portal" : "nav.dashboard"))));
    focusHeading(main);
    return;
  }
  main.appendChild(h("div", { class: "dash" }, centresSection(), membersSection(), gatesSection(), keysSection()));
  focusHeading(main);
}

function centreName(id) {
  const c = state.centres.find((x) => x.id === id);
  return c ? nameOf(c) : id;
}

function centresSection() {
  return h("section", { class: "card panel", id: "centres", "aria-labelledby": "centres-title" },
    h("h2", { id: "centres-title" }, t("admin.centres")),
    h("ul", { class: "plain" }, state.centres.map((c) => h("li", null,
      h("a", { href: "/manage.html#centre=" + encodeURIComponent(c.id) }, nameOf(c)), " · ", nameOf(c, "city"), " · ",
      t("admin.units", { n: c.unit_types.reduce((a, u) => a + u.units, 0), count: fmtNumber(c.unit_types.reduce((a, u) => a + u.units, 0)) })))));
}

function membersSection() {
  const q = h("input", { type: "search", id: "member-q", name: "q", value: state.q, maxlength: 64, autocomplete: "off" });
  const out = h("div", { id: "member-results", "aria-live": "polite" });
  const form = h("form", { class: "inline-form", role: "search" }, field(t("members.search"), q, t("members.search_hint")),
    h("button", { type: "submit", class: "primary", id: "member-search" }, t("members.search_button")));
  const run = async () => {
    state.q = q.value.trim();
    clear(out).appendChild(h("p", null, t("common.loading")));
    try {
      const r = await api("GET", "/api/v1/admin/members?q=" + encodeURIComponent(state.q));
      clear(out);
      out.appendChild(table([
        { key: "members.number", cell: (m) => m.number },
        { key: "members.name", cell: (m) => h("span", null, m.first_name + " " + m.last_name,
          h("span", { class: "block muted", lang: "ar", dir: "rtl" }, m.first_name_ar + " " + m.last_name_ar)) },
        { key: "members.status", cell: (m) => t("members.status_" + m.status) },
        { key: "members.category", cell: (m) => m.category },
        { key: "members.household", num: true, cell: (m) => fmtNumber(m.household) },
        { key: "members.bookings", num: true, cell: (m) => fmtNumber(m.bookings) },
        { key: "members.contact", cell: (m) => h("span", { dir: "ltr" }, m.email, h("span", { class: "block muted" }, m.phone)) },
      ], r.members, { id: "members-table", caption: t("members.caption", { n: r.members.length, count: fmtNumber(r.members.length) }), empty: t("members.none") }));
      if (r.truncated) out.appendChild(notice("info", t("members.truncated")));
    } catch (err) {
      clear(out).appendChild(notice("error", errorText(err)));
    }
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    run();
  });
  if (state.q) run();
  return h("section", { class: "card panel wide", id: "members", "aria-labelledby": "members-title" },
    h("h2", { id: "members-title" }, t("members.title")), form, out);
}

function gatesSection() {
  const sec = h("section", { class: "card panel wide", id: "gates-admin", "aria-labelledby": "gates-title" },
    h("h2", { id: "gates-title" }, t("gates.admin_title")));
  const codeBox = h("div", { id: "gate-code-box", "aria-live": "polite" });
  const list = h("div", { id: "gate-list" }, h("p", null, t("common.loading")));
  const centre = h("select", { id: "gate-centre" }, state.centres.map((c) => h("option", { value: c.id }, nameOf(c))));
  const name = h("input", { id: "gate-name", maxlength: 64, required: true, autocomplete: "off" });
  const msg = h("div", { class: "form-msg", "aria-live": "polite" });
  const form = h("form", { class: "inline-form", id: "gate-add" }, field(t("gates.centre"), centre), field(t("gates.name"), name, t("gates.name_hint")),
    h("button", { type: "submit", class: "primary", id: "gate-add-button" }, t("gates.add")), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(msg);
    if (!name.value.trim()) {
      msg.appendChild(notice("error", t("gates.name_missing")));
      name.focus();
      return;
    }
    try {
      const r = await api("POST", "/api/v1/admin/gates", { centre: centre.value, name: name.value.trim() });
      name.value = "";
      clear(codeBox).appendChild(h("div", { class: "notice notice-ok code-box", role: "status" },
        h("p", null, t("gates.code_intro", { name: r.name, centre: centreName(r.centre) })),
        h("p", { class: "code", id: "gate-code", dir: "ltr" }, r.code),
        h("p", null, t("gates.code_once", { time: fmtInstant(r.code_expires_at) }))));
      loadGates();
    } catch (err) {
      msg.appendChild(notice("error", errorText(err)));
    }
  });
  sec.appendChild(form);
  sec.appendChild(codeBox);
  sec.appendChild(list);

  async function loadGates() {
    let r;
    try {
      r = await api("GET", "/api/v1/admin/gates");
    } catch (err) {
      clear(list).appendChild(err.status === 404 || err.status === 405
        ? notice("info", t("gates.not_available"), { id: "gates-na" })
        : notice("error", errorText(err)));
      return;
    }
    clear(list).appendChild(table([
      { key: "gates.name", cell: (g) => g.name },
      { key: "gates.centre", cell: (g) => centreName(g.centre) },
      { key: "gates.last_sync", cell: (g) => (g.last_sync ? fmtInstant(g.last_sync) : t("gates.never")) },
      { key: "gates.queue", num: true, cell: (g) => (g.queue === null || g.queue === undefined ? "—" : fmtNumber(g.queue)) },
      { key: "gates.clock", num: true, cell: (g) => (g.clock_offset_s === null || g.clock_offset_s === undefined ? "—"
        : t("gates.seconds", { n: g.clock_offset_s, count: fmtNumber(g.clock_offset_s) })) },
      { key: "gates.state", cell: (g) => (g.revoked ? h("span", { class: "badge status-cancelled" }, t("gates.revoked")) : revokeButton(g)) },
    ], r.gates, { id: "gates-table", caption: t("gates.admin_title"), empty: t("gates.none") }));
  }

  function revokeButton(g) {
    const wrap = h("span", { class: "revoke" });
    const ask = h("button", { type: "button", class: "danger small", "data-gate": g.id, on: { click: () => {
      clear(wrap).appendChild(h("span", { class: "confirm" }, t("gates.revoke_confirm", { name: g.name }), " ",
        h("button", { type: "button", class: "danger small", id: "gate-revoke-yes-" + g.id, on: { click: async () => {
          try {
            await api("POST", "/api/v1/admin/gates/" + g.id + "/revoke");
            loadGates();
          } catch (err) {
            wrap.appendChild(notice("error", errorText(err)));
          }
        } } }, t("gates.revoke_yes")), " ",
        h("button", { type: "button", class: "secondary small", on: { click: () => clear(wrap).appendChild(ask) } }, t("common.cancel"))));
      wrap.querySelector("button").focus();
    } } }, t("gates.revoke"));
    wrap.appendChild(h("span", { class: "badge status-confirmed" }, t("gates.active")));
    wrap.appendChild(ask);
    return wrap;
  }

  loadGates();
  return sec;
}

function keysSection() {
  const sec = h("section", { class: "card panel wide", id: "keys", "aria-labelledby": "keys-title" },
    h("h2", { id: "keys-title" }, t("keys.title")), h("p", { class: "hint" }, t("keys.hint")));
  const out = h("div", null, h("p", null, t("common.loading")));
  sec.appendChild(out);
  api("GET", "/api/v1/admin/keys").then((r) => {
    clear(out).appendChild(table([
      { key: "keys.id", num: true, cell: (k) => fmtNumber(k.id) },
      { key: "keys.state", cell: (k) => h("span", { class: "badge " + (k.signing ? "status-confirmed" : k.needed ? "status-held" : "status-expired") },
        t(k.signing ? "keys.signing" : k.needed ? "keys.retired_needed" : "keys.retired")) },
      { key: "keys.created", cell: (k) => fmtInstant(k.created_at) },
      { key: "keys.retired_at", cell: (k) => (k.retired_at ? fmtInstant(k.retired_at) : "—") },
      { key: "keys.needed_until", cell: (k) => (k.needed_until ? fmtInstant(k.needed_until) : "—") },
      { key: "keys.passes", num: true, cell: (k) => fmtNumber(k.active_passes) },
      { key: "keys.public", cell: (k) => h("code", { dir: "ltr", title: k.public_key }, k.public_key.slice(0, 16) + "…") },
    ], r.keys, { id: "keys-table", caption: t("keys.title"), empty: t("keys.none") }));
  }).catch((err) => clear(out).appendChild(notice("error", errorText(err))));
  return sec;
}

boot();
