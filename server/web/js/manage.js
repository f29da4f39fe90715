// manage.js: the centre managers' dashboard (manage.html). For one centre and a date range: occupancy per
// night by unit type as SVG charts and as a table, the day's arrivals and departures, the people on site
// now and the gates (from the gates' sync), revenue collected and refunded; each table exported as CSV.
// Managers see their centres, admins every centre. The choice is kept in the address:
// #centre=al-arz&from=YYYY-MM-DD&to=YYYY-MM-DD&date=YYYY-MM-DD.
import { t, onLangChange, fmtMoney, fmtDate, fmtInstant, fmtNumber, fmtList, today, addDays, daysBetween, nameOf, getLang } from "./i18n.js";
import { api, errorText, session, onSessionExpired, ApiError } from "./api.js";
import { h, clear, notice, heading, frame, field, loginForm, logout, focusHeading, table, csvLink } from "./ui.js";
import { barChart } from "./chart.js";

const main = document.getElementById("main");
const MAX_DAYS = 92; // the server's cap (max_request_nights)
const state = { me: null, centres: [] };

function links(current) {
  if (state.me && state.me.role === "member") return [{ href: "/", key: "nav.centres", current: false }];
  const l = [{ href: "/manage.html", key: "nav.dashboard", current: current === "manage" }];
  if (state.me && state.me.role === "admin") l.push({ href: "/admin.html", key: "nav.admin", current: false });
  return l;
}

function drawFrame() {
  frame({ titleKey: "manage.title", links: state.me ? links("manage") : [], onLogout: () => logout(() => showLogin(false)) });
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
window.addEventListener("hashchange", () => state.me && render());

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

function params() {
  const q = new URLSearchParams(location.hash.slice(1));
  const mine = state.me.centres || [];
  const from = q.get("from") || today();
  return {
    centre: q.get("centre") || mine[0] || "",
    from,
    to: q.get("to") || addDays(from, 13),
    date: q.get("date") || today(),
  };
}

function setParams(p) {
  const q = new URLSearchParams({ centre: p.centre, from: p.from, to: p.to, date: p.date });
  location.hash = q.toString(); // hashchange renders
}

function centreName(id) {
  const c = state.centres.find((x) => x.id === id);
  return c ? nameOf(c) : id;
}

function render() {
  drawFrame();
  clear(main);
  if (state.me.role === "member") {
    // members have no business here; the API would answer 403 to every call anyway
    main.appendChild(heading(1, t("manage.title")));
    main.appendChild(notice("error", t("manage.members_not_allowed"), { id: "forbidden" }));
    main.appendChild(h("p", null, h("a", { class: "button primary", href: "/" }, t("manage.to_portal"))));
    focusHeading(main);
    return;
  }
  const p = params();
  const mine = (state.me.centres || []).includes(p.centre);
  main.appendChild(heading(1, mine ? t("manage.heading", { centre: centreName(p.centre) }) : t("manage.title")));
  main.appendChild(controls(p));
  const err = h("div", { id: "page-msg", "aria-live": "polite" });
  main.appendChild(err);
  focusHeading(main);
  if (!p.centre) {
    err.appendChild(notice("warn", t("manage.no_centre")));
    return;
  }
  const occ = section("occupancy", t("occ.title", { from: fmtDate(p.from), to: fmtDate(p.to) }));
  const mov = section("movements", t("mov.title"));
  const site = section("onsite", t("onsite.title"));
  const rev = section("revenue", t("rev.title", { from: fmtDate(p.from), to: fmtDate(p.to) }));
  const grid = h("div", { class: "dash" }, occ, h("div", { class: "dash-side" }, mov, site), rev);
  main.appendChild(grid);
  loadOccupancy(p, occ).then((ok) => {
    if (!ok) return grid.remove();
    loadMovements(p, mov);
    loadOnsite(p, site);
    loadRevenue(p, rev);
  });

  function section(id, title) {
    return h("section", { class: "card panel", id, "aria-labelledby": id + "-title" }, h("h2", { id: id + "-title" }, title),
      h("p", { class: "loading" }, t("common.loading")));
  }

  // a page-level message when the centre is not the caller's (404) or not allowed (403)
  function fatal(e) {
    clear(err).appendChild(notice("error", e.status === 404 ? t("manage.centre_not_yours") : errorText(e), { id: "centre-error", "data-code": e.code }));
  }

  async function loadOccupancy(pp, sec) {
    let r;
    try {
      r = await api("GET", "/api/v1/manage/centres/" + encodeURIComponent(pp.centre) + "/occupancy?from=" + pp.from + "&to=" + pp.to);
    } catch (e) {
      if (e.status === 404 || e.status === 403) {
        fatal(e);
        return false;
      }
      sec.querySelector(".loading").replaceWith(notice("error", errorText(e)));
      return true;
    }
    sec.querySelector(".loading").remove();
    const totalBooked = r.totals.reduce((a, n) => a + n.booked, 0);
    const capacity = r.units * r.totals.length;
    sec.appendChild(h("p", { class: "kpi" }, h("strong", { id: "occ-rate" }, capacity ? fmtPercent(totalBooked / capacity) : "—"), " ",
      t("occ.rate_label")));
    sec.appendChild(h("ul", { class: "legend" }, h("li", { class: "lg-confirmed" }, t("occ.confirmed")), h("li", { class: "lg-held" }, t("occ.held")),
      h("li", { class: "lg-guests" }, t("occ.guests"))));
    const charts = h("div", { class: "charts", id: "occ-chart" });
    const fit = sec.clientWidth - 40; // the panel's inner width, less its padding and the chart's border
    for (const ut of r.unit_types) {
      const series = ut.nights.map((n) => ({
        night: n.night,
        stack: [{ value: n.confirmed, cls: "confirmed" }, { value: n.booked - n.confirmed, cls: "held" }],
        title: t("occ.bar_title", { date: fmtDate(n.night), booked: fmtNumber(n.booked), units: fmtNumber(ut.units),
          confirmed: fmtNumber(n.confirmed), n: n.guests, guests: fmtNumber(n.guests) }),
      }));
      charts.appendChild(h("figure", { class: "chart-fig", "data-unit-type": ut.id },
        h("figcaption", null, t("occ.chart_caption", { type: nameOf(ut), units: fmtNumber(ut.units) })),
        barChart(series, ut.units, t("occ.chart_label", { type: nameOf(ut) }), t("occ.units_axis"), fit)));
    }
    const maxGuests = Math.max(1, ...r.totals.map((n) => n.guests));
    charts.appendChild(h("figure", { class: "chart-fig", "data-unit-type": "guests" },
      h("figcaption", null, t("occ.guests_caption")),
      barChart(r.totals.map((n) => ({
        night: n.night,
        stack: [{ value: n.guests_confirmed, cls: "guests" }, { value: n.guests - n.guests_confirmed, cls: "guests-held" }],
        title: t("occ.guests_title", { date: fmtDate(n.night), n: n.guests, guests: fmtNumber(n.guests) }),
      })), maxGuests, t("occ.guests_caption"), "", fit)));
    sec.appendChild(charts);
    // the same numbers as a table
    const cols = [{ key: "occ.night", rowHeader: true, cell: (row) => fmtDate(row.night, "day") }];
    r.unit_types.forEach((ut, i) => {
      cols.push({ label: nameOf(ut), num: true, cell: (row) => {
        const n = row.types[i];
        return h("span", { "data-booked": n.booked, "data-confirmed": n.confirmed }, t("occ.cell", {
          booked: fmtNumber(n.booked), units: fmtNumber(ut.units), confirmed: fmtNumber(n.confirmed) }));
      } });
    });
    cols.push({ key: "occ.guests", num: true, cell: (row) => fmtNumber(row.total.guests) });
    const rows = r.totals.map((tot, k) => ({ night: tot.night, total: tot, types: r.unit_types.map((ut) => ut.nights[k]) }));
    // open on wide screens; on a phone the table is one tap away, under the charts
    sec.appendChild(h("details", { class: "table-details", open: window.matchMedia("(min-width: 62rem)").matches },
      h("summary", null, t("occ.table_summary")),
      table(cols, rows, { id: "occ-table", caption: t("occ.table_caption"), label: t("occ.table_caption") })));
    sec.appendChild(h("p", { class: "actions" }, csvLink(exportUrl("occupancy", pp, "from=" + pp.from + "&to=" + pp.to), "occ-csv")));
    return true;
  }

  async function loadMovements(pp, sec) {
    const date = h("input", { type: "date", id: "mov-date", value: pp.date, on: { change: () => {
      if (date.value) setParams(Object.assign({}, pp, { date: date.value }));
    } } });
    sec.querySelector(".loading").replaceWith(h("div", { class: "inline-form" }, field(t("mov.date"), date)));
    const body = h("div", { "aria-live": "polite" }, h("p", null, t("common.loading")));
    sec.appendChild(body);
    let r;
    try {
      r = await api("GET", "/api/v1/manage/centres/" + encodeURIComponent(pp.centre) + "/movements?date=" + pp.date);
    } catch (e) {
      clear(body).appendChild(notice("error", errorText(e)));
      return;
    }
    const c = state.centres.find((x) => x.id === pp.centre);
    const typeName = (id) => {
      const u = c && c.unit_types.find((x) => x.id === id);
      return u ? nameOf(u) : id;
    };
    const cols = [
      { key: "mov.name", cell: (m) => h("span", null, getLang() === "ar" && m.name_ar.trim() ? m.name_ar : m.name,
        h("span", { class: "muted block" }, fmtList(m.guest_names))) },
      { key: "mov.member", cell: (m) => m.member },
      { key: "mov.unit", cell: (m) => m.unit + " · " + typeName(m.unit_type) },
      { key: "mov.household", num: true, cell: (m) => fmtNumber(m.guests) },
      { key: "mov.phone", cell: (m) => h("a", { href: "tel:" + m.phone, dir: "ltr" }, m.phone) },
    ];
    clear(body);
    body.appendChild(h("h3", null, t("mov.arrivals", { n: r.arrivals.length, count: fmtNumber(r.arrivals.length) })));
    body.appendChild(table(cols, r.arrivals, { id: "arrivals", caption: t("mov.arrivals_caption", { date: fmtDate(r.date) }), empty: t("mov.no_arrivals") }));
    body.appendChild(h("h3", null, t("mov.departures", { n: r.departures.length, count: fmtNumber(r.departures.length) })));
    body.appendChild(table(cols, r.departures, { id: "departures", caption: t("mov.departures_caption", { date: fmtDate(r.date) }), empty: t("mov.no_departures") }));
    body.appendChild(h("p", { class: "actions" }, csvLink(exportUrl("movements", pp, "date=" + pp.date), "mov-csv")));
  }

  async function loadOnsite(pp, sec) {
    let r;
    try {
      r = await api("GET", "/api/v1/manage/centres/" + encodeURIComponent(pp.centre) + "/onsite");
    } catch (e) {
      sec.querySelector(".loading").replaceWith(e.status === 404 || e.status === 405
        ? notice("info", t("onsite.not_available"), { id: "onsite-na" })
        : notice("error", errorText(e)));
      return;
    }
    sec.querySelector(".loading").remove();
    sec.appendChild(h("p", { class: "kpi" }, h("strong", { id: "onsite-count" }, fmtNumber(r.inside)), " ", t("onsite.people", { n: r.inside })));
    sec.appendChild(h("p", { class: "hint" }, t("onsite.as_of", { time: fmtInstant(r.as_of) })));
    sec.appendChild(h("h3", null, t("gates.title")));
    sec.appendChild(table([
      { key: "gates.name", cell: (g) => g.name },
      { key: "gates.last_sync", cell: (g) => (g.last_sync ? fmtInstant(g.last_sync) : t("gates.never")) },
      { key: "gates.queue", num: true, cell: (g) => (g.queue === null || g.queue === undefined ? "—" : fmtNumber(g.queue)) },
      { key: "gates.state", cell: (g) => h("span", { class: "badge " + (g.revoked ? "status-cancelled" : "status-confirmed") },
        t(g.revoked ? "gates.revoked" : "gates.active")) },
    ], r.gates || [], { id: "gates", caption: t("gates.title"), empty: t("gates.none") }));
  }

  async function loadRevenue(pp, sec) {
    let r;
    try {
      r = await api("GET", "/api/v1/manage/centres/" + encodeURIComponent(pp.centre) + "/revenue?from=" + pp.from + "&to=" + pp.to);
    } catch (e) {
      sec.querySelector(".loading").replaceWith(notice("error", errorText(e)));
      return;
    }
    sec.querySelector(".loading").remove();
    sec.appendChild(h("dl", { class: "totals", id: "revenue-totals" },
      h("div", null, h("dt", null, t("rev.collected")), h("dd", { id: "rev-collected", "data-centimes": r.collected.centimes }, fmtMoney(r.collected)),
        h("dd", { class: "muted" }, t("rev.payments", { n: r.payments, count: fmtNumber(r.payments) }))),
      h("div", null, h("dt", null, t("rev.refunded")), h("dd", { id: "rev-refunded", "data-centimes": r.refunded.centimes }, fmtMoney(r.refunded)),
        h("dd", { class: "muted" }, t("rev.refunds", { n: r.refunds, count: fmtNumber(r.refunds) }))),
      h("div", null, h("dt", null, t("rev.net")), h("dd", { id: "rev-net" }, fmtMoney(r.net))),
      r.refunds_pending ? h("div", null, h("dt", null, t("rev.pending")), h("dd", null, fmtMoney(r.refunds_pending_amount))) : null));
    sec.appendChild(table([
      { key: "rev.date", cell: (x) => fmtDate(x.date) },
      { key: "rev.kind", cell: (x) => t("rev.kind_" + x.kind) + (x.kind === "refund" && x.status !== "succeeded" ? " (" + t("rev.status_" + x.status) + ")" : "") },
      { key: "rev.booking", num: true, cell: (x) => fmtNumber(x.booking) },
      { key: "rev.member", cell: (x) => x.name + " · " + x.member },
      { key: "rev.amount", num: true, cell: (x) => (x.kind === "refund" ? "− " : "") + fmtMoney(x.amount) },
    ], r.transactions, { id: "revenue-table", caption: t("rev.table_caption"), empty: t("rev.none") }));
    if (r.truncated) sec.appendChild(notice("info", t("rev.truncated")));
    sec.appendChild(h("p", { class: "actions" }, csvLink(exportUrl("revenue", pp, "from=" + pp.from + "&to=" + pp.to), "rev-csv")));
  }
}

function exportUrl(what, p, query) {
  return "/api/v1/manage/centres/" + encodeURIComponent(p.centre) + "/" + what + "?" + query + "&format=csv";
}

function fmtPercent(x) {
  return new Intl.NumberFormat(getLang() === "ar" ? "ar-MA" : "fr-MA", { style: "percent", maximumFractionDigits: 1 }).format(x);
}

function controls(p) {
  const mine = state.me.centres || [];
  const sel = h("select", { id: "centre", name: "centre" }, mine.map((id) => h("option", { value: id, selected: id === p.centre }, centreName(id))));
  const from = h("input", { type: "date", id: "from", name: "from", value: p.from, required: true });
  const to = h("input", { type: "date", id: "to", name: "to", value: p.to, required: true });
  const msg = h("div", { class: "form-msg", "aria-live": "polite" });
  const form = h("form", { class: "card controls", id: "controls" },
    h("div", { class: "controls-row" }, field(t("manage.centre"), sel), field(t("manage.from"), from), field(t("manage.to"), to),
      h("div", { class: "field field-button" }, h("button", { type: "submit", class: "primary", id: "show" }, t("manage.show")))),
    msg);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clear(msg);
    if (!from.value || !to.value || to.value < from.value) {
      msg.appendChild(notice("error", t("manage.bad_range")));
      return;
    }
    if (daysBetween(from.value, to.value) + 1 > MAX_DAYS) {
      msg.appendChild(notice("error", t("manage.range_too_long", { n: MAX_DAYS, max: fmtNumber(MAX_DAYS) })));
      return;
    }
    setParams({ centre: sel.value, from: from.value, to: to.value, date: p.date });
  });
  return form;
}

boot();
