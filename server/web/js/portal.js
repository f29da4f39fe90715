// portal.js: the members' portal (index.html): log in, choose a centre, see free units and prices for
// one's category on a calendar, hold a unit for the household, pay on the card gateway's page, come back
// to a confirmed booking and its QR passes, see one's bookings with the hold countdown, and cancel after
// seeing the refund. Views are chosen by the address's #fragment: #/, #/centre/ID, #/bookings, #/booking/ID.
import {
  t, onLangChange, fmtMoney, fmtDate, fmtMonth, fmtInstant, fmtDuration, fmtNumber, weekdayNames, today,
  addDays, daysBetween, dateOf, isoDate, nameOf, getLang, fmtList,
} from "./i18n.js";
import { api, errorText, session, onSessionExpired, serverNow, randomKey, ApiError } from "./api.js";
import { h, clear, notice, heading, frame, field, loginForm, logout, focusHeading } from "./ui.js";

const main = document.getElementById("main");
const PAYING_KEY = "estiva.paying"; // {booking, at}: set before going to the gateway
const REFUND_KEY = "estiva.refund."; // + booking id: the quote shown when the member cancelled

const state = {
  me: null,
  centres: [],
  avail: new Map(), // "centre|from" -> availability answer
  pick: {}, // per centre: {type, month: "YYYY-MM", arrival, departure, guests: Set, key, body}
  flash: null, // a notice to show once on the next view: {kind, text, id}
};
let timers = [];

function stopTimers() {
  for (const id of timers) clearInterval(id);
  timers = [];
}

function links(current) {
  return [
    { href: "#/", key: "nav.centres", current: current === "home" },
    { href: "#/bookings", key: "nav.bookings", current: current === "bookings" },
    { href: "/account.html#/settings", key: "login.settings", current: false },
  ];
}

function drawFrame(current) {
  frame({ titleKey: "portal.title", links: session() ? links(current) : [], onLogout: () => logout(showLogin) });
}

function showError(err) {
  clear(main).appendChild(h("section", { class: "card" }, heading(1, t("common.error_title")),
    notice("error", errorText(err)), h("p", null, h("a", { href: "#/" }, t("common.back_home")))));
  focusHeading(main);
}

function showLogin(expired) {
  stopTimers();
  state.me = null;
  drawFrame("login");
  clear(main);
  if (expired) main.appendChild(notice("warn", t("err.session_expired"), { id: "session-expired" }));
  main.appendChild(loginForm(() => boot(), t("login.intro")));
  // no call centre: members activate their account and reset a forgotten password themselves
  main.appendChild(h("ul", { class: "account-links", id: "account-links" },
    h("li", null, h("a", { href: "/account.html#/activate", id: "link-activate" }, t("login.first_time"))),
    h("li", null, h("a", { href: "/account.html#/forgot", id: "link-forgot" }, t("login.forgot")))));
  const input = document.getElementById("login-member");
  if (input) input.focus();
}

onSessionExpired(() => showLogin(true));

async function boot() {
  stopTimers();
  if (!session()) return showLogin(false);
  try {
    state.me = await api("GET", "/api/v1/me");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin(true);
    drawFrame("home");
    return showError(err);
  }
  if (state.me.role !== "member") {
    location.replace("/manage.html");
    return;
  }
  try {
    state.centres = (await api("GET", "/api/v1/centres")).centres;
  } catch (err) {
    drawFrame("home");
    return showError(err);
  }
  // back from the card gateway: /payments/ok|fail link to "/"; open the booking that was being paid
  const paying = readJSON(sessionStorage, PAYING_KEY);
  if (paying && Date.now() - paying.at < 3600 * 1000 && !location.hash.startsWith("#/booking/")) {
    location.replace("#/booking/" + paying.booking);
    return; // hashchange renders it
  }
  route();
}

function readJSON(store, key) {
  try {
    return JSON.parse(store.getItem(key) || "null");
  } catch (e) {
    return null;
  }
}

function route() {
  stopTimers();
  if (!state.me) return boot();
  const hash = location.hash || "#/";
  let m;
  if ((m = hash.match(/^#\/centre\/([a-z0-9-]+)$/))) return viewCentre(m[1]);
  if (hash === "#/bookings") return viewBookings();
  if ((m = hash.match(/^#\/booking\/(\d+)$/))) return viewBooking(Number(m[1]));
  return viewHome();
}

window.addEventListener("hashchange", route);
onLangChange((l) => {
  // the language chosen last on the portal is the one of the member's messages
  if (state.me && state.me.role === "member") api("PATCH", "/api/v1/me", { locale: l }).catch(() => {});
  return state.me ? route() : showLogin(false);
});

function centreById(id) {
  return state.centres.find((c) => c.id === id);
}

function typeOf(centre, id) {
  return centre ? centre.unit_types.find((u) => u.id === id) : null;
}

function memberName() {
  const m = state.me.member;
  return getLang() === "ar" && m.first_name_ar ? m.first_name_ar : m.first_name;
}

function fmtYear(y) {
  return new Intl.NumberFormat(getLang() === "ar" ? "ar-MA" : "fr-MA", { useGrouping: false }).format(y);
}

function takeFlash() {
  const f = state.flash;
  state.flash = null;
  return f ? notice(f.kind, f.text, { id: f.id }) : null;
}

// ---- home: the centres and my latest bookings ----

async function viewHome() {
  drawFrame("home");
  clear(main);
  main.appendChild(heading(1, t("home.hello", { name: memberName() })));
  const f = takeFlash();
  if (f) main.appendChild(f);
  main.appendChild(h("p", { class: "lead" }, t("home.intro")));
  const list = h("ul", { class: "centres", id: "centres" });
  for (const c of state.centres) {
    list.appendChild(
      h(
        "li",
        { class: "card centre", "data-centre": c.id },
        h("h2", null, nameOf(c)),
        h("p", { class: "city" }, nameOf(c, "city")),
        h("ul", { class: "types" }, c.unit_types.map((u) =>
          h("li", null, nameOf(u), " · ", t("centre.capacity", { min: fmtNumber(u.min_guests), max: fmtNumber(u.max_guests) })))),
        h("p", { class: "times" }, t("centre.times", { in: c.check_in, out: c.check_out })),
        h("a", { class: "button primary", href: "#/centre/" + c.id }, t("home.see_dates"))
      )
    );
  }
  main.appendChild(h("section", { "aria-labelledby": "centres-title" }, h("h2", { id: "centres-title", class: "sr-only" }, t("nav.centres")), list));
  const mine = h("section", { class: "mine", "aria-labelledby": "mine-title" }, h("h2", { id: "mine-title" }, t("home.my_bookings")));
  main.appendChild(mine);
  focusHeading(main);
  try {
    const r = await api("GET", "/api/v1/bookings");
    const active = r.bookings.filter((b) => b.status === "held" || b.status === "confirmed").slice(0, 3);
    if (!active.length) mine.appendChild(h("p", { class: "empty" }, t("bookings.none_active")));
    else mine.appendChild(bookingList(active));
    mine.appendChild(h("p", null, h("a", { href: "#/bookings" }, t("home.all_bookings"))));
  } catch (err) {
    mine.appendChild(notice("error", errorText(err)));
  }
}

// ---- the calendar and the booking form ----

function monthOf(date) {
  return date.slice(0, 7);
}

function monthBounds(month) {
  const [y, m] = month.split("-").map(Number);
  const first = month + "-01";
  const last = isoDate(new Date(Date.UTC(y, m, 0)));
  return { y, m, first, last };
}

function shiftMonth(month, n) {
  const [y, m] = month.split("-").map(Number);
  const d = new Date(Date.UTC(y, m - 1 + n, 1));
  return isoDate(d).slice(0, 7);
}

async function availability(centre, month) {
  const b = monthBounds(month);
  const key = centre + "|" + b.first;
  if (!state.avail.has(key))
    state.avail.set(key, await api("GET", "/api/v1/centres/" + centre + "/availability?from=" + b.first + "&to=" + b.last));
  return state.avail.get(key);
}

// night -> {free, price, season} for a unit type, from every month fetched so far
function nightsOf(centre, type) {
  const out = new Map();
  for (const [key, a] of state.avail) {
    if (!key.startsWith(centre + "|")) continue;
    const ut = a.unit_types.find((u) => u.id === type);
    if (ut) for (const n of ut.nights) out.set(n.night, n);
  }
  return out;
}

function seasonAt(centre, night) {
  return centre.seasons.find((s) => s.first_night <= night && night <= s.last_night);
}

function pickFor(c) {
  if (!state.pick[c.id]) {
    state.pick[c.id] = {
      type: c.unit_types[0] ? c.unit_types[0].id : null,
      month: monthOf(today()),
      arrival: null,
      departure: null,
      guests: new Set(["self"]),
      key: null,
      body: null,
    };
  }
  return state.pick[c.id];
}

async function viewCentre(id) {
  const c = centreById(id);
  drawFrame("home");
  clear(main);
  if (!c) {
    main.appendChild(notice("error", t("err.not_found")));
    return;
  }
  const p = pickFor(c);
  main.appendChild(heading(1, nameOf(c)));
  main.appendChild(h("p", { class: "lead" }, nameOf(c, "city"), " · ", t("centre.times", { in: c.check_in, out: c.check_out })));

  // unit types
  const types = h("fieldset", { class: "types-pick" }, h("legend", null, t("book.unit_type")));
  for (const u of c.unit_types) {
    const input = h("input", { type: "radio", name: "unit_type", value: u.id, id: "type-" + u.id, checked: u.id === p.type,
      on: { change: () => { p.type = u.id; p.key = null; drawCalendar(); drawForm(); } } });
    types.appendChild(h("div", { class: "radio-card" }, input, h("label", { for: input.id },
      h("strong", null, nameOf(u)), h("span", null, t("centre.capacity", { min: fmtNumber(u.min_guests), max: fmtNumber(u.max_guests) })))));
  }
  main.appendChild(types);

  const cal = h("section", { class: "calendar", id: "calendar", "aria-labelledby": "cal-title" });
  const form = h("section", { class: "book-form card", id: "book-form", "aria-labelledby": "form-title" });
  main.appendChild(h("div", { class: "book-layout" }, cal, form));
  focusHeading(main);

  async function drawCalendar() {
    const b = monthBounds(p.month);
    clear(cal);
    const prev = h("button", { type: "button", class: "secondary", id: "cal-prev", "aria-label": t("cal.prev"),
      disabled: p.month <= monthOf(today()), on: { click: () => { p.month = shiftMonth(p.month, -1); drawCalendar(); } } }, t("cal.prev_short"));
    const next = h("button", { type: "button", class: "secondary", id: "cal-next", "aria-label": t("cal.next"),
      on: { click: () => { p.month = shiftMonth(p.month, 1); drawCalendar(); } } }, t("cal.next_short"));
    cal.appendChild(h("div", { class: "cal-head" }, prev, h("h2", { id: "cal-title", "aria-live": "polite" }, fmtMonth(b.y, b.m)), next));
    const status = h("p", { class: "cal-status", "aria-live": "polite" }, t("common.loading"));
    cal.appendChild(status);
    let a;
    try {
      a = await availability(c.id, p.month);
    } catch (err) {
      status.replaceWith(notice("error", errorText(err)));
      return;
    }
    if (monthBounds(p.month).first !== b.first) return; // another month was chosen meanwhile
    status.remove();
    const nights = nightsOf(c.id, p.type);
    const unit = typeOf(c, p.type);
    const now = today();
    const grid = h("table", { class: "cal-grid", id: "cal-grid" },
      h("caption", { class: "sr-only" }, t("cal.caption", { type: nameOf(unit), month: fmtMonth(b.y, b.m) })),
      h("thead", null, h("tr", null, weekdayNames().map((w) => h("th", { scope: "col" }, w)))));
    const body = h("tbody");
    const lead = (dateOf(b.first).getUTCDay() + 6) % 7; // Monday first
    let row = h("tr");
    for (let i = 0; i < lead; i++) row.appendChild(h("td", { class: "pad" }));
    for (let d = b.first; d <= b.last; d = addDays(d, 1)) {
      if (row.children.length === 7) {
        body.appendChild(row);
        row = h("tr");
      }
      row.appendChild(h("td", null, dayButton(d, nights.get(d), unit, now)));
    }
    while (row.children.length < 7) row.appendChild(h("td", { class: "pad" }));
    body.appendChild(row);
    grid.appendChild(body);
    grid.addEventListener("keydown", gridKeys);
    cal.appendChild(h("div", { class: "cal-scroll" }, grid));
    cal.appendChild(h("ul", { class: "legend" },
      h("li", { class: "lg-free" }, t("cal.legend_free")),
      h("li", { class: "lg-few" }, t("cal.legend_few")),
      h("li", { class: "lg-full" }, t("cal.legend_full")),
      h("li", { class: "lg-sel" }, t("cal.legend_selected"))));
    cal.appendChild(h("p", { class: "hint" }, t("cal.price_hint")));
  }

  function selectingDeparture() {
    return p.arrival && !p.departure;
  }

  // the first night after the arrival that has no free unit: the latest possible departure
  function departureLimit(nights) {
    if (!p.arrival) return null;
    for (let d = p.arrival; daysBetween(p.arrival, d) <= 31; d = addDays(d, 1)) {
      const n = nights.get(d);
      if (d !== p.arrival && (!n || !n.free || n.price === null)) return d;
    }
    return addDays(p.arrival, 31);
  }

  function dayButton(d, n, unit, now) {
    const free = n ? n.free : 0;
    const open = n && n.price !== null;
    const inStay = p.arrival && p.departure && d >= p.arrival && d < p.departure;
    let disabled;
    if (selectingDeparture()) {
      const limit = departureLimit(nightsOf(c.id, p.type));
      disabled = d <= p.arrival ? d !== p.arrival && (d < now || !free || !open) : d > limit;
    } else {
      disabled = d < now || !free || !open;
    }
    const cls = ["day"];
    if (!open) cls.push("closed");
    else if (!free) cls.push("full");
    else if (free <= Math.max(1, Math.floor(unit.units / 5))) cls.push("few");
    else cls.push("free");
    if (d < now) cls.push("past");
    if (inStay || d === p.arrival) cls.push("selected");
    if (d === p.departure) cls.push("departure");
    const label = [fmtDate(d, "long")];
    if (d < now) label.push(t("cal.past"));
    else if (!open) label.push(t("cal.closed"));
    else if (!free) label.push(t("cal.full"));
    else label.push(t("cal.free_n", { n: free, count: fmtNumber(free) }), fmtMoney(n.price));
    if (d === p.arrival) label.push(t("cal.arrival"));
    if (d === p.departure) label.push(t("cal.departure"));
    return h("button", {
      type: "button", class: cls.join(" "), "data-date": d, disabled, "aria-pressed": String(Boolean(inStay || d === p.arrival)),
      "aria-label": label.join(", "), on: { click: () => choose(d) },
    },
    h("span", { class: "dnum" }, fmtNumber(Number(d.slice(8)))),
    open && d >= now ? h("span", { class: "dfree" }, free ? t("cal.free_short", { count: fmtNumber(free) }) : t("cal.full_short")) : null,
    open && free && d >= now ? h("span", { class: "dprice" }, fmtNumber(Math.round(n.price.centimes / 100))) : null);
  }

  function gridKeys(ev) {
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 7, ArrowUp: -7 }[ev.key];
    const from = ev.target.dataset && ev.target.dataset.date;
    if (!step || !from) return;
    const rtl = document.documentElement.dir === "rtl" && Math.abs(step) === 1;
    const target = cal.querySelector('[data-date="' + addDays(from, rtl ? -step : step) + '"]');
    if (target) {
      ev.preventDefault();
      target.focus();
    }
  }

  function choose(d) {
    if (selectingDeparture() && d > p.arrival) {
      p.departure = d;
    } else if (selectingDeparture() && d === p.arrival) {
      p.arrival = null;
    } else {
      p.arrival = d;
      p.departure = null;
    }
    p.key = null;
    const focusDate = d;
    drawCalendar().then(() => {
      const b = cal.querySelector('[data-date="' + focusDate + '"]');
      if (b && !b.disabled) b.focus();
    });
    drawForm();
  }

  function drawForm() {
    clear(form);
    const unit = typeOf(c, p.type);
    form.appendChild(h("h2", { id: "form-title" }, t("book.your_stay")));
    const arr = h("input", { type: "date", id: "arrival", value: p.arrival || "", min: today(),
      on: { change: () => { p.arrival = arr.value || null; if (p.departure && p.arrival && p.departure <= p.arrival) p.departure = null;
        if (p.arrival) p.month = monthOf(p.arrival); p.key = null; drawCalendar(); drawForm(); } } });
    const dep = h("input", { type: "date", id: "departure", value: p.departure || "", min: p.arrival ? addDays(p.arrival, 1) : today(),
      on: { change: () => { p.departure = dep.value || null; p.key = null; drawCalendar(); drawForm(); } } });
    form.appendChild(h("div", { class: "dates" }, field(t("book.arrival"), arr, t("book.arrival_hint", { time: c.check_in })),
      field(t("book.departure"), dep, t("book.departure_hint", { time: c.check_out }))));

    // the season's rules for the chosen arrival
    const season = p.arrival ? seasonAt(c, p.arrival) : null;
    if (season) {
      form.appendChild(h("p", { class: "hint", id: "season-rule" }, season.kind === "high"
        ? t("book.rule_high", { n: season.rotation_nights, nights: fmtNumber(season.rotation_nights), start: fmtDate(season.rotation_start, "short") })
        : t("book.rule_low", { min: fmtNumber(season.min_nights), max: fmtNumber(season.max_nights) })));
    }

    // guests: the member and their household
    const hh = state.me.member.household || [];
    const people = [{ id: "self", name: state.me.member.first_name, relation: "self", birth_year: null }].concat(
      hh.map((g, i) => ({ id: "h" + i, name: g.name, relation: g.relation, birth_year: g.birth_year })));
    const gset = h("fieldset", { class: "guests", id: "guests" }, h("legend", null, t("book.guests")));
    for (const g of people) {
      const box = h("input", { type: "checkbox", id: "guest-" + g.id, value: g.id, checked: p.guests.has(g.id),
        on: { change: () => { if (box.checked) p.guests.add(g.id); else p.guests.delete(g.id); p.key = null; drawForm();
          const again = document.getElementById("guest-" + g.id); if (again) again.focus(); } } });
      gset.appendChild(h("div", { class: "check" }, box, h("label", { for: box.id }, g.name, " ",
        h("span", { class: "muted" }, "(" + t("relation." + g.relation) + (g.birth_year ? t("common.comma") + fmtYear(g.birth_year) : "") + ")"))));
    }
    if (unit) gset.appendChild(h("p", { class: "hint" }, t("book.guests_hint", { min: fmtNumber(unit.min_guests), max: fmtNumber(unit.max_guests) })));
    form.appendChild(gset);

    // summary
    const nights = p.arrival && p.departure ? daysBetween(p.arrival, p.departure) : 0;
    const known = nightsOf(c.id, p.type);
    let total = 0;
    let complete = nights > 0;
    for (let d = p.arrival, i = 0; i < nights; i++, d = addDays(d, 1)) {
      const n = known.get(d);
      if (n && n.price) total += n.price.centimes;
      else complete = false;
    }
    const count = p.guests.size;
    const sum = h("dl", { class: "summary", id: "summary" },
      h("dt", null, t("book.unit_type")), h("dd", null, unit ? nameOf(unit) : "—"),
      h("dt", null, t("book.dates")), h("dd", null, p.arrival && p.departure ? t("book.range", { from: fmtDate(p.arrival), to: fmtDate(p.departure) })
        : p.arrival ? t("book.from_only", { from: fmtDate(p.arrival) }) : t("book.pick_dates")),
      h("dt", null, t("book.nights_label")), h("dd", null, nights ? t("book.nights", { n: nights, count: fmtNumber(nights) }) : "—"),
      h("dt", null, t("book.guests_label")), h("dd", null, t("book.people", { n: count, count: fmtNumber(count) })),
      h("dt", null, t("book.total")), h("dd", { id: "estimate" }, complete ? fmtMoney({ centimes: total, currency: "MAD" }) : "—"));
    form.appendChild(sum);
    if (complete) form.appendChild(h("p", { class: "hint" }, t("book.total_hint")));

    const msg = h("div", { class: "form-msg", id: "book-msg", "aria-live": "polite" });
    let problem = null;
    if (!p.arrival || !p.departure) problem = t("book.need_dates");
    else if (unit && (count < unit.min_guests || count > unit.max_guests))
      problem = t("book.guests_out_of_range", { min: fmtNumber(unit.min_guests), max: fmtNumber(unit.max_guests) });
    const submit = h("button", { type: "button", class: "primary", id: "book-submit", disabled: Boolean(problem),
      "aria-describedby": problem ? "book-problem" : null, on: { click: () => hold(people, msg, submit) } }, t("book.submit"));
    if (problem) form.appendChild(h("p", { class: "hint", id: "book-problem" }, problem));
    form.appendChild(msg);
    form.appendChild(submit);
    form.appendChild(h("p", { class: "hint" }, t("book.hold_hint")));
  }

  async function hold(people, msg, submit) {
    clear(msg);
    const body = {
      centre: c.id,
      unit_type: p.type,
      arrival: p.arrival,
      departure: p.departure,
      guests: people.filter((g) => p.guests.has(g.id)).map((g) => {
        const o = { name: g.name, relation: g.relation };
        if (g.birth_year) o.birth_year = g.birth_year;
        return o;
      }),
    };
    const text = JSON.stringify(body);
    if (!p.key || p.body !== text) {
      // one key per distinct request: a retry of the same request (lost answer) books only once
      p.key = randomKey();
      p.body = text;
    }
    submit.disabled = true;
    msg.appendChild(notice("info", t("book.sending")));
    try {
      const b = await api("POST", "/api/v1/bookings", body, { "Idempotency-Key": p.key });
      state.pick[c.id] = null;
      state.avail.clear();
      state.flash = { kind: "ok", text: t("book.held", { time: fmtInstant(b.hold_expires_at, false) }), id: "held-notice" };
      location.hash = "#/booking/" + b.id;
    } catch (err) {
      clear(msg).appendChild(notice("error", errorText(err), { id: "book-error", "data-code": err.code }));
      submit.disabled = false;
      if (err.code === "sold_out") {
        state.avail.clear(); // someone took it while you were choosing: show the calendar as it is now
        p.departure = null;
        p.key = null;
        drawCalendar();
      }
    }
  }

  drawForm();
  await drawCalendar();
}

// ---- my bookings ----

function statusBadge(status, id) {
  return h("span", { class: "badge status-" + status, "data-status": status, id }, t("status." + status));
}

function countdown(b, node, onEnd) {
  const end = Date.parse(b.hold_expires_at);
  const tick = () => {
    const left = end - serverNow();
    node.textContent = left > 0 ? t("booking.hold_left", { time: fmtDuration(left) }) : t("booking.hold_ending");
    if (left <= 0 && onEnd) {
      onEnd();
      onEnd = null;
    }
  };
  tick();
  timers.push(setInterval(tick, 1000));
}

function bookingList(list) {
  return h("ul", { class: "bookings", id: "booking-list" }, list.map((b) => {
    const c = centreById(b.centre);
    const u = typeOf(c, b.unit_type);
    const cd = b.status === "held" && b.hold_expires_at ? h("span", { class: "countdown" }) : null;
    if (cd) countdown(b, cd);
    return h("li", { class: "card booking-item", "data-booking": b.id },
      h("div", { class: "row" }, h("a", { href: "#/booking/" + b.id, class: "strong" }, t("booking.title", { id: fmtNumber(b.id) })), statusBadge(b.status)),
      h("p", null, c ? nameOf(c) : b.centre, " · ", u ? nameOf(u) : b.unit_type, " ", b.unit),
      h("p", null, t("book.range", { from: fmtDate(b.arrival), to: fmtDate(b.departure) }), " · ", t("book.nights", { n: b.nights, count: fmtNumber(b.nights) })),
      h("p", { class: "row" }, h("span", { class: "amount" }, fmtMoney(b.amount)), cd));
  }));
}

async function viewBookings() {
  drawFrame("bookings");
  clear(main);
  main.appendChild(heading(1, t("bookings.title")));
  focusHeading(main);
  try {
    const r = await api("GET", "/api/v1/bookings");
    if (!r.bookings.length) main.appendChild(h("p", { class: "empty" }, t("bookings.none"), " ", h("a", { href: "#/" }, t("bookings.book_now"))));
    else main.appendChild(bookingList(r.bookings));
  } catch (err) {
    main.appendChild(notice("error", errorText(err)));
  }
}

// ---- one booking: pay, passes, cancel ----

function policyText(tiers) {
  const sorted = tiers.slice().sort((a, b) => b.days_before - a.days_before);
  return sorted.map((tier, i) => {
    const pct = fmtNumber(tier.percent);
    if (i === 0 && tier.days_before > 0) return t("cancel.tier_first", { days: fmtNumber(tier.days_before), percent: pct });
    const upper = sorted[i - 1] ? sorted[i - 1].days_before - 1 : null;
    if (tier.days_before === 0) return t("cancel.tier_last", { days: fmtNumber(upper + 1), percent: pct });
    return t("cancel.tier_mid", { from: fmtNumber(tier.days_before), to: fmtNumber(upper), percent: pct });
  });
}

async function viewBooking(id) {
  drawFrame("bookings");
  clear(main);
  main.appendChild(heading(1, t("booking.title", { id: fmtNumber(id) })));
  const flash = takeFlash();
  if (flash) main.appendChild(flash);
  const box = h("div", { "aria-live": "polite" }, h("p", null, t("common.loading")));
  main.appendChild(box);
  focusHeading(main);
  let b;
  try {
    b = await api("GET", "/api/v1/bookings/" + id);
  } catch (err) {
    clear(box).appendChild(notice("error", errorText(err)));
    return;
  }
  // just back from the gateway? the callback usually lands first; give it a moment if not
  const paying = readJSON(sessionStorage, PAYING_KEY);
  let payResult = null;
  if (paying && paying.booking === id) {
    for (let i = 0; i < 6 && b.status === "held"; i++) {
      await new Promise((r) => setTimeout(r, 700));
      try {
        b = await api("GET", "/api/v1/bookings/" + id);
      } catch (err) {
        break;
      }
    }
    sessionStorage.removeItem(PAYING_KEY);
    if (b.status === "confirmed") payResult = notice("ok", t("pay.approved"), { id: "payment-result", "data-result": "approved" });
    else if (b.status === "held")
      payResult = notice("error", t("pay.declined", { time: fmtInstant(b.hold_expires_at, false) }), { id: "payment-result", "data-result": "declined" });
    else payResult = notice("warn", t("pay.too_late"), { id: "payment-result", "data-result": b.status });
  }
  renderBooking(box, b, payResult);
}

function renderBooking(box, b, payResult) {
  stopTimers();
  const c = centreById(b.centre);
  const u = typeOf(c, b.unit_type);
  clear(box);
  if (payResult) box.appendChild(payResult);
  const card = h("section", { class: "card booking", id: "booking", "data-booking": b.id, "data-status": b.status });
  card.appendChild(h("div", { class: "row" }, h("h2", null, c ? nameOf(c) : b.centre), statusBadge(b.status, "booking-status")));
  card.appendChild(h("dl", { class: "details" },
    h("dt", null, t("book.unit_type")), h("dd", null, u ? nameOf(u) : b.unit_type),
    h("dt", null, t("booking.unit")), h("dd", { id: "booking-unit" }, b.unit),
    h("dt", null, t("book.arrival")), h("dd", null, fmtDate(b.arrival, "long"), c ? " · " + t("booking.from_time", { time: c.check_in }) : ""),
    h("dt", null, t("book.departure")), h("dd", null, fmtDate(b.departure, "long"), c ? " · " + t("booking.until_time", { time: c.check_out }) : ""),
    h("dt", null, t("book.nights_label")), h("dd", null, t("book.nights", { n: b.nights, count: fmtNumber(b.nights) })),
    h("dt", null, t("book.guests_label")), h("dd", null, fmtList(b.guests.map((g) => g.name + " (" + t("relation." + g.relation) + ")"))),
    h("dt", null, t("booking.amount")), h("dd", { id: "booking-amount", class: "amount" }, fmtMoney(b.amount))));
  box.appendChild(card);

  const actions = h("div", { class: "actions" });
  const msg = h("div", { class: "form-msg", id: "booking-msg", "aria-live": "polite" });
  const refresh = async () => {
    try {
      renderBooking(box, await api("GET", "/api/v1/bookings/" + b.id), null);
    } catch (err) {
      clear(msg).appendChild(notice("error", errorText(err)));
    }
  };

  if (b.status === "held") {
    const cd = h("p", { class: "countdown big", id: "hold-countdown", role: "timer" });
    card.appendChild(cd);
    card.appendChild(h("p", { class: "hint" }, t("booking.hold_until", { time: fmtInstant(b.hold_expires_at) })));
    let waited = 0;
    countdown(b, cd, () => {
      // the server releases the hold within its sweep interval: look again until it has
      const again = setInterval(async () => {
        waited++;
        try {
          const nb = await api("GET", "/api/v1/bookings/" + b.id);
          if (nb.status !== "held" || waited > 30) {
            clearInterval(again);
            renderBooking(box, nb, null);
          }
        } catch (err) {
          clearInterval(again);
        }
      }, 1000);
      timers.push(again);
    });
    const pay = h("button", { type: "button", class: "primary", id: "pay", on: { click: () => startPayment(b, pay, msg) } },
      t("pay.button", { amount: fmtMoney(b.amount) }));
    actions.appendChild(pay);
    actions.appendChild(cancelButton(b, box, msg));
    card.appendChild(h("p", { class: "hint" }, t("pay.hint")));
  } else if (b.status === "confirmed") {
    card.appendChild(notice("ok", t("booking.confirmed"), { id: "confirmed-notice" }));
    actions.appendChild(cancelButton(b, box, msg));
  } else if (b.status === "expired") {
    card.appendChild(notice("warn", t("booking.expired"), { id: "expired-notice" }));
    actions.appendChild(h("a", { class: "button primary", href: "#/centre/" + b.centre }, t("booking.book_again")));
  } else if (b.status === "cancelled") {
    card.appendChild(notice("info", t("booking.cancelled"), { id: "cancelled-notice" }));
    const r = readJSON(sessionStorage, REFUND_KEY + b.id);
    if (r && r.refund && r.refund.centimes > 0)
      card.appendChild(notice("ok", t("cancel.refund_requested", { amount: fmtMoney(r.refund), percent: fmtNumber(r.percent) }), { id: "refund-result" }));
    else if (r) card.appendChild(notice("info", t("cancel.no_refund"), { id: "refund-result" }));
  }
  card.appendChild(msg);
  card.appendChild(actions);
  if (b.status === "confirmed") box.appendChild(passesSection(b, c));
  if (b.status === "confirmed" || b.status === "cancelled") box.appendChild(documentsSection(b));
  box.appendChild(h("p", null, h("a", { href: "#/bookings" }, t("booking.back_to_list"))));

  function cancelButton(bk) {
    return h("button", { type: "button", class: "danger", id: "cancel", on: { click: () => showQuote(bk, box, msg, refresh) } }, t("cancel.button"));
  }
}

async function startPayment(b, button, msg) {
  clear(msg);
  button.disabled = true;
  try {
    const r = await api("POST", "/api/v1/bookings/" + b.id + "/payment", { lang: getLang() });
    sessionStorage.setItem(PAYING_KEY, JSON.stringify({ booking: b.id, at: Date.now() }));
    msg.appendChild(notice("info", t("pay.redirecting")));
    location.assign(r.form_url); // a page of ours that posts the signed form to the gateway
  } catch (err) {
    msg.appendChild(notice("error", errorText(err), { id: "pay-error", "data-code": err.code }));
    button.disabled = false;
  }
}

async function showQuote(b, box, msg, refresh) {
  clear(msg);
  let q;
  try {
    q = await api("GET", "/api/v1/bookings/" + b.id + "/cancel-quote");
  } catch (err) {
    msg.appendChild(notice("error", errorText(err)));
    return;
  }
  const old = document.getElementById("cancel-panel");
  if (old) old.remove();
  const panel = h("section", { class: "card cancel-panel", id: "cancel-panel", role: "region", "aria-labelledby": "cancel-title" },
    h("h2", { id: "cancel-title", tabindex: "-1" }, t("cancel.title")));
  if (!q.cancellable) {
    panel.appendChild(notice("warn", t("err.not_cancellable")));
  } else if (q.paid.centimes > 0) {
    panel.appendChild(h("p", { id: "quote-text", "data-refund": q.refund.centimes }, t("cancel.quote_paid", {
      n: q.days_before_arrival, days: fmtNumber(q.days_before_arrival), percent: fmtNumber(q.percent),
      refund: fmtMoney(q.refund), paid: fmtMoney(q.paid) })));
  } else {
    panel.appendChild(h("p", { id: "quote-text", "data-refund": 0 }, t("cancel.quote_unpaid")));
  }
  if (q.policy && q.policy.length) {
    panel.appendChild(h("p", { class: "hint" }, t("cancel.policy")));
    panel.appendChild(h("ul", { class: "policy" }, policyText(q.policy).map((s) => h("li", null, s))));
  }
  const keep = h("button", { type: "button", class: "secondary", id: "cancel-keep", on: { click: () => panel.remove() } }, t("cancel.keep"));
  const go = h("button", { type: "button", class: "danger", id: "cancel-confirm", disabled: !q.cancellable, on: { click: async () => {
    go.disabled = true;
    try {
      await api("POST", "/api/v1/bookings/" + b.id + "/cancel");
      sessionStorage.setItem(REFUND_KEY + b.id, JSON.stringify({ refund: q.refund, percent: q.percent }));
      await refresh();
      const r = document.getElementById("refund-result");
      if (r) r.focus();
    } catch (err) {
      panel.appendChild(notice("error", errorText(err)));
      go.disabled = false;
    }
  } } }, t("cancel.confirm"));
  panel.appendChild(h("div", { class: "actions" }, go, keep));
  box.insertBefore(panel, box.children[1] || null);
  panel.querySelector("h2").focus();
}

function passesSection(b, c) {
  const sec = h("section", { class: "passes", id: "passes", "aria-labelledby": "passes-title" },
    h("h2", { id: "passes-title" }, t("passes.title")), h("p", { class: "hint" }, t("passes.hint")));
  const list = h("ul", { class: "pass-list" }, h("li", null, t("common.loading")));
  sec.appendChild(list);
  api("GET", "/api/v1/bookings/" + b.id + "/passes").then((r) => {
    clear(list);
    if (!r.passes.length) list.appendChild(h("li", { class: "empty" }, t("passes.none")));
    for (const ps of r.passes) {
      list.appendChild(h("li", { class: "card pass", "data-pass": ps.id },
        h("figure", null,
          h("img", { class: "qr", src: ps.png, width: 232, height: 232, alt: t("passes.qr_alt", { name: ps.guest_name }) }),
          h("figcaption", null, h("strong", null, ps.guest_name), h("span", null, t("passes.valid", {
            from: fmtInstant(ps.valid_from), until: fmtInstant(ps.valid_until) })), h("span", null, (c ? nameOf(c) : b.centre) + " · " + b.unit))),
        h("a", { class: "button secondary print", href: "/passes/" + ps.id + "/print", target: "_blank", rel: "noopener" }, t("passes.print"))));
    }
  }).catch((err) => {
    clear(list).appendChild(h("li", null, notice("error", errorText(err))));
  });
  return sec;
}

// The stay for a calendar (.ics, the server's calendar.c) and the printable receipts (receipts.c).
function documentsSection(b) {
  return h("section", { class: "documents", id: "documents", "aria-labelledby": "documents-title" },
    h("h2", { id: "documents-title" }, t("documents.title")),
    h("p", { class: "actions" },
      h("a", { class: "button secondary", id: "stay-ics", href: "/api/v1/bookings/" + b.id + "/stay.ics", download: "estiva-" + b.id + ".ics" }, t("documents.calendar")),
      h("a", { class: "button secondary", id: "receipts", href: "/receipts/" + b.id + "/print", target: "_blank", rel: "noopener" }, t("documents.receipts"))),
    h("p", { class: "hint" }, t("documents.hint")));
}

boot();
