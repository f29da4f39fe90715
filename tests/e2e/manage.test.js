// The manager dashboard and the admin page in a real browser, with bookings made through the API (one
// paid on the gateway simulator, one confirmed at the desk, two held): the chart, the table and the CSV
// exports show them; members and a manager of another centre see nothing of Al Arz; the admin pages.
"use strict";
const assert = require("node:assert/strict");
const { useEstiva, payByCard, download, login, checkPage, shot } = require("./lib/harness.js");

const APPROVE = "4000000000000010";
const data = {};

const E = useEstiva({ name: "manage" }, async (env) => {
  const t = env.today;
  data.paidNight = env.addDays(t, 10);
  data.from = t;
  data.to = env.addDays(t, 20);
  const book = async (member, body) => {
    const call = await env.client(member);
    const r = await call("POST", "/api/v1/bookings", body, { "Idempotency-Key": "e2e-" + member });
    assert.equal(r.status, 201, r.text);
    return { call, booking: r.json };
  };
  // Karim pays by card: confirmed, 750 MAD collected today
  const k = await book("100001", { centre: "al-arz", unit_type: "bungalow", arrival: data.paidNight, departure: env.addDays(t, 13),
    guests: [{ name: "Karim", relation: "self" }, { name: "Salma", relation: "spouse", birth_year: 1982 }] });
  await payByCard(env, k.call, k.booking.id, APPROVE);
  const kb = await k.call("GET", "/api/v1/bookings/" + k.booking.id);
  assert.equal(kb.json.status, "confirmed");
  data.paid = kb.json;
  // Rachid arrives today, confirmed at the desk
  const r = await book("100004", { centre: "al-arz", unit_type: "room", arrival: t, departure: env.addDays(t, 2),
    guests: [{ name: "Rachid", relation: "self" }, { name: "Khadija", relation: "spouse" }] });
  env.admin(["confirm", String(r.booking.id)]);
  data.arriving = r.booking;
  // held: Fatima Zahra at Al Arz, Nawal at Asianda
  data.held = (await book("100002", { centre: "al-arz", unit_type: "room", arrival: data.paidNight, departure: env.addDays(t, 12),
    guests: [{ name: "Fatima Zahra", relation: "self" }] })).booking;
  data.asianda = (await book("100005", { centre: "asianda", unit_type: "apartment", arrival: data.paidNight, departure: env.addDays(t, 12),
    guests: [{ name: "Nawal", relation: "self" }, { name: "Hicham", relation: "spouse" }] })).booking;
});

function dash(env, centre) {
  return env.url + "/manage.html#centre=" + centre + "&from=" + data.from + "&to=" + data.to + "&date=" + env.today;
}

E.it("the manager's dashboard shows the new booking in the occupancy chart and table, and the CSV export holds it", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await login(page, dash(env, "al-arz"), "manager");
  await page.waitForSelector("#occ-chart");
  // the chart: one confirmed bungalow on each paid night, one held room
  const bar = '#occ-chart figure[data-unit-type="bungalow"] g[data-night="' + data.paidNight + '"]';
  assert.equal(await page.getAttribute(bar + " rect.confirmed", "data-value"), "1");
  assert.equal(await page.$(bar + " rect.held"), null);
  assert.equal(await page.getAttribute('#occ-chart figure[data-unit-type="room"] g[data-night="' + data.paidNight + '"] rect.held', "data-value"), "1");
  assert.match(await page.textContent(bar + " title"), /1\/18/);
  // the table: the same numbers
  const row = await page.evaluate((night) => {
    const rows = Array.from(document.querySelectorAll("#occ-table tbody tr"));
    const nights = Array.from(document.querySelectorAll('#occ-chart figure[data-unit-type="bungalow"] g.night'), (g) => g.dataset.night);
    const r = rows[nights.indexOf(night)];
    return Array.from(r.querySelectorAll("td"), (td) => td.textContent);
  }, data.paidNight);
  assert.deepEqual(row, ["1/18 (1 conf.)", "1/24 (0 conf.)", "3"]);
  // the CSV export holds it
  const csv = await download(page, "#occ-csv");
  assert.equal(csv.name, "occupancy-al-arz-" + data.from + "-" + data.to + ".csv");
  assert.ok(csv.text.startsWith("\uFEFFnight,unit_type,units,booked,confirmed,held,guests,guests_confirmed\r\n"), csv.text.slice(0, 80));
  assert.ok(csv.text.includes("\r\n" + data.paidNight + ",bungalow,18,1,1,0,2,2\r\n"), "the paid booking's night in the CSV");
  assert.ok(csv.text.includes("\r\n" + data.paidNight + ",room,24,1,0,1,1,0\r\n"), "the held room in the CSV");
  assert.equal(csv.text.trim().split("\r\n").length, 1 + 21 * 2);

  // arrivals today: Rachid Tazi and his wife in a room
  await page.waitForSelector("#arrivals");
  const arrivals = await page.textContent("#arrivals");
  assert.match(arrivals, /Rachid Tazi/);
  assert.match(arrivals, /100004/);
  assert.match(arrivals, /Khadija/);
  const mov = await download(page, "#mov-csv");
  assert.equal(mov.name, "movements-al-arz-" + env.today + ".csv");
  assert.match(mov.text, new RegExp("\\r\\narrival," + data.arriving.id + ",100004,Rachid Tazi,رشيد التازي,'\\+212663456704,room,R\\d+,2,Rachid Tazi; Khadija,"));

  // revenue: Karim's 750 MAD
  await page.waitForSelector("#revenue-table");
  assert.equal(await page.getAttribute("#rev-collected", "data-centimes"), "75000");
  assert.match(await page.textContent("#revenue-table"), /Karim El Amrani/);
  const rev = await download(page, "#rev-csv");
  assert.match(rev.text, /\r\n[0-9-]+,[0-9TZ:-]+,payment,(approved|captured),\d+,100001,Karim El Amrani,EST[^,]+,750\.00,MAD,100\r\n/);

  // people on site and gates (from the gates' sync), or a plain word that it is not there yet
  await page.waitForSelector("#onsite-count, #onsite-na");
  await checkPage(page, "fr");
  await shot(page, "dashboard-fr", { docs: true });

  // Arabic: mirrored, translated, the chart drawn from right to left
  await page.click('.lang button[data-lang="ar"]');
  await page.waitForSelector("#occ-chart");
  await page.waitForSelector("#revenue-table");
  await checkPage(page, "ar");
  const [first, last] = await page.evaluate(() => {
    const g = Array.from(document.querySelectorAll('#occ-chart figure[data-unit-type="bungalow"] g.night rect'));
    return [Number(g[0].getAttribute("x")), Number(g[g.length - 1].getAttribute("x"))];
  });
  assert.ok(first > last, "in Arabic the first night is on the right");
  await shot(page, "dashboard-ar", { docs: true });
});

E.it("the dashboard on a phone", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr", width: 390, height: 844 });
  await login(page, dash(env, "al-arz"), "manager");
  await page.waitForSelector("#occ-chart");
  await page.waitForSelector("#revenue-table");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, "no sideways scrolling of the page (" + overflow + " px)");
  await checkPage(page, "fr");
  await shot(page, "dashboard-phone-fr", { fullPage: false });
});

E.it("a member cannot open the manager dashboard", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await login(page, dash(env, "al-arz"), "100003");
  await page.waitForSelector("#forbidden");
  assert.equal(await page.$("#occupancy"), null);
  assert.equal(await page.$("#occ-chart"), null);
  await checkPage(page, "fr");
  const req = page.context().request;
  for (const p of ["/api/v1/manage/centres/al-arz/occupancy?from=" + data.from + "&to=" + data.to,
    "/api/v1/manage/centres/al-arz/movements", "/api/v1/manage/centres/al-arz/revenue?from=" + data.from + "&to=" + data.to,
    "/api/v1/admin/members?q=a", "/api/v1/admin/keys"]) {
    const r = await req.get(env.url + p);
    assert.equal(r.status(), 403, p);
    assert.equal((await r.json()).error.code, "forbidden");
  }
  // the admin page says the same
  await page.goto(env.url + "/admin.html");
  await page.waitForSelector("#forbidden");
  await checkPage(page, "fr");
});

E.it("a manager of Asianda cannot see Al Arz's data", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await login(page, dash(env, "al-arz"), "mgr-asianda");
  await page.waitForSelector("#centre-error");
  assert.equal(await page.$("#occ-chart"), null);
  assert.equal(await page.$("#arrivals"), null);
  assert.deepEqual(await page.$$eval("#centre option", (os) => os.map((o) => o.value)), ["asianda"]);
  assert.doesNotMatch(await page.textContent("main"), /Rachid|Karim/);
  await checkPage(page, "fr");
  const req = page.context().request;
  for (const p of ["/api/v1/manage/centres/al-arz/occupancy?from=" + data.from + "&to=" + data.to,
    "/api/v1/manage/centres/al-arz/occupancy?from=" + data.from + "&to=" + data.to + "&format=csv",
    "/api/v1/manage/centres/al-arz/movements?date=" + env.today, "/api/v1/manage/centres/al-arz/movements?format=csv",
    "/api/v1/manage/centres/al-arz/revenue?from=" + data.from + "&to=" + data.to + "&format=csv",
    "/api/v1/manage/centres/al-arz/onsite", "/api/v1/bookings/" + data.paid.id]) {
    const r = await req.get(env.url + p);
    assert.equal(r.status(), 404, p);
  }
  for (const p of ["/api/v1/admin/members?q=a", "/api/v1/admin/keys"]) assert.equal((await req.get(env.url + p)).status(), 403, p);
  // their own centre works: Nawal's held apartment
  await page.goto(dash(env, "asianda"));
  await page.waitForSelector("#occ-chart");
  assert.equal(await page.getAttribute('#occ-chart figure[data-unit-type="apartment"] g[data-night="' + data.paidNight + '"] rect.held', "data-value"), "1");
  await checkPage(page, "fr");
});

E.it("an admin sees every centre, searches members, adds and revokes a gate, and sees the signing keys", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await login(page, env.url + "/admin.html", "admin");
  await page.waitForSelector("#keys-table");
  assert.equal((await page.$$("#centres li")).length, 2);
  assert.match(await page.textContent("#keys-table"), /Signe maintenant/);
  // members, by name in French and in Arabic
  await page.fill("#member-q", "amrani");
  await page.click("#member-search");
  await page.waitForSelector("#members-table");
  assert.match(await page.textContent("#members-table"), /100001/);
  await page.fill("#member-q", "العمراني");
  await page.click("#member-search");
  await page.waitForFunction(() => /100001/.test(document.querySelector("#member-results").textContent));
  // gates: add (the one-time code is shown), then revoke
  await page.waitForSelector("#gate-list table, #gates-na, #gate-list .empty");
  if (await page.$("#gates-na")) {
    console.log("# gate administration is not on this server yet: skipped that part");
  } else {
    await page.selectOption("#gate-centre", "al-arz");
    await page.fill("#gate-name", "Entrée principale");
    await page.click("#gate-add-button");
    await page.waitForSelector("#gate-code");
    assert.ok((await page.textContent("#gate-code")).trim().length >= 6, "an enrolment code");
    await page.waitForSelector("#gates-table");
    assert.match(await page.textContent("#gates-table"), /Entrée principale/);
    await checkPage(page, "fr");
    await shot(page, "admin-fr", { docs: true });
    await page.click("#gates-table button.danger");
    await page.click("#gates-table [id^=gate-revoke-yes-]");
    await page.waitForFunction(() => /Révoqué/.test(document.querySelector("#gates-table").textContent));
  }
  await checkPage(page, "fr");
  await page.click('.lang button[data-lang="ar"]');
  await page.waitForSelector("#keys-table");
  await checkPage(page, "ar");
  await shot(page, "admin-ar");
  // the dashboard lets an admin pick every centre
  await page.goto(env.url + "/manage.html");
  await page.waitForSelector("#occ-chart");
  assert.deepEqual((await page.$$eval("#centre option", (os) => os.map((o) => o.value))).sort(), ["al-arz", "asianda"]);
  await checkPage(page, "ar");
});

E.it("the dashboard's APIs refuse unbounded or malformed requests with clear errors", async () => {
  const { env } = E;
  const call = await env.client("manager");
  const base = "/api/v1/manage/centres/al-arz/";
  const bad = async (p, code) => {
    const r = await call("GET", p);
    assert.equal(r.status, 400, p + ": " + r.text);
    assert.equal(r.json.error.code, code || "bad_request");
    assert.ok(r.json.error.message.length > 5);
  };
  await bad(base + "occupancy?from=" + env.today + "&to=" + env.addDays(env.today, 92)); // 93 nights
  await bad(base + "revenue?from=" + env.today + "&to=" + env.addDays(env.today, 92));
  await bad(base + "occupancy?from=" + env.today + "&to=" + env.addDays(env.today, -1));
  await bad(base + "occupancy?from=" + env.today);
  await bad(base + "occupancy?from=2027-02-30&to=2027-03-01");
  await bad(base + "occupancy?from=" + env.today + "&to=" + env.today + "&format=xml");
  await bad(base + "movements?date=tomorrow");
  const ok = await call("GET", base + "occupancy?from=" + env.today + "&to=" + env.addDays(env.today, 91));
  assert.equal(ok.status, 200);
  assert.equal(ok.json.totals.length, 92);
  const csv = await call("GET", base + "revenue?from=" + env.today + "&to=" + env.today + "&format=csv");
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get("content-type"), /^text\/csv; charset=utf-8/);
  assert.equal(csv.headers.get("content-disposition"), 'attachment; filename="revenue-al-arz-' + env.today + '.csv"');
  assert.equal(csv.headers.get("x-content-type-options"), "nosniff");
  const nosuch = await call("GET", "/api/v1/manage/centres/atlantis/occupancy?from=" + env.today + "&to=" + env.today);
  assert.equal(nosuch.status, 404);
  const admin = await env.client("admin");
  const long = await admin("GET", "/api/v1/admin/members?q=" + "x".repeat(65));
  assert.equal(long.status, 400);
  const wild = await admin("GET", "/api/v1/admin/members?q=%25");
  assert.equal(wild.status, 200);
  assert.equal(wild.json.members.length, 0, "% is matched literally");
  const keys = await admin("GET", "/api/v1/admin/keys");
  assert.equal(keys.json.keys.length, 1);
  assert.equal(keys.json.keys[0].signing, true);
  assert.match(keys.json.keys[0].public_key, /^[0-9a-f]{64}$/);
});
