// The members' portal in a real browser: book, pay on the gateway simulator's page with the approving
// card, come back confirmed, the passes' QR images decode to the booking's tokens; a declined card; the
// cancellation with its quote and refund; an ended session; Arabic and French pages.
"use strict";
const assert = require("node:assert/strict");
const { useEstiva, pickDates, login, checkPage, shot, decodeQR } = require("./lib/harness.js");

const E = useEstiva({ name: "member" });
const APPROVE = "4000000000000010";
const DECLINE = "4000000000000002"; // any other number: "Do not honour"
let confirmed = null; // the booking paid in the first test: {id, amount}

async function payOnGateway(page, pan) {
  await page.waitForSelector("input[name=pan]");
  await page.fill("input[name=pan]", pan);
  await page.fill("input[name=expiry]", "12/39");
  await page.fill("input[name=cvc]", "123");
  await page.fill("input[name=holder]", "Karim El Amrani");
  await Promise.all([page.waitForURL(/\/payments\/(ok|fail)/), page.click("form button[type=submit]")]);
  await page.waitForSelector("#state");
}

E.it("a member books, pays with the approving card, comes back confirmed, and the QR passes decode to the booking's tokens", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await login(page, env.url + "/", "100001");
  await page.waitForSelector("#centres");
  await checkPage(page, "fr");

  await page.click('[data-centre="al-arz"] a');
  await page.waitForSelector("#cal-grid");
  const arrival = env.addDays(env.today, 20);
  const departure = env.addDays(arrival, 3);
  await pickDates(page, arrival, departure);
  await page.check("#guest-h0"); // Salma, spouse
  await page.waitForSelector("#estimate:not(:empty)");
  assert.match(await page.textContent("#estimate"), /750,00/); // 3 nights x 250 MAD, category cat-b
  await checkPage(page, "fr");
  await shot(page, "member-booking-fr", { docs: true });

  await page.click("#book-submit");
  await page.waitForSelector('#booking-status[data-status="held"]');
  const id = Number(await page.getAttribute("#booking", "data-booking"));
  assert.match(await page.textContent("#hold-countdown"), /\d{2}:\d{2}/);
  await checkPage(page, "fr");
  await shot(page, "member-held-fr");

  // the gateway's page, then back to the server's return page, then back to the portal
  await Promise.all([page.waitForURL(/fim\/est3Dgate/), page.click("#pay")]);
  await payOnGateway(page, APPROVE);
  assert.equal(await page.getAttribute("#state", "data-status"), "confirmed");
  assert.match(await page.textContent("main"), /confirmée/);
  const bg = await page.evaluate(() => getComputedStyle(document.getElementById("state")).backgroundColor);
  assert.notEqual(bg, "rgba(0, 0, 0, 0)", "the return page is styled by /app.css");
  await shot(page, "payment-return-fr");
  await page.click('main a[href="/"]');
  await page.waitForSelector('#payment-result[data-result="approved"]');
  assert.equal(await page.getAttribute("#booking-status", "data-status"), "confirmed");

  // the passes: one QR image per guest, each decoding to exactly its token
  await page.waitForSelector("#passes img.qr");
  await page.waitForFunction(() => Array.from(document.querySelectorAll("#passes img.qr")).every((i) => i.complete && i.naturalWidth > 0));
  const api = await page.context().request.get(env.url + "/api/v1/bookings/" + id + "/passes");
  const { passes } = await api.json();
  assert.equal(passes.length, 2);
  const images = await page.$$("#passes li.pass");
  assert.equal(images.length, passes.length);
  const decoded = [];
  for (const li of images) {
    const passId = Number(await li.getAttribute("data-pass"));
    const img = await li.$("img.qr");
    const text = decodeQR(await img.screenshot());
    assert.equal(text, passes.find((p) => p.id === passId).token, "QR of pass " + passId);
    decoded.push(text);
  }
  assert.deepEqual(decoded.sort(), passes.map((p) => p.token).sort());
  await checkPage(page, "fr");
  await shot(page, "member-passes-fr", { docs: true });

  // the print page of a pass uses /print.css and shows the QR code
  const print = await page.context().newPage();
  await print.goto(env.url + "/passes/" + passes[0].id + "/print");
  await print.waitForSelector("img.qr");
  assert.equal(await print.evaluate(() => document.styleSheets[0] && document.styleSheets[0].href.endsWith("/print.css")), true);
  assert.equal(await print.evaluate(() => getComputedStyle(document.querySelector(".pass")).borderTopStyle), "dashed");
  await shot(print, "pass-print", { docs: true });
  await print.close();

  // the same page in Arabic: switched by the button, mirrored, remembered across a reload
  await page.click('.lang button[data-lang="ar"]');
  await page.waitForFunction(() => document.documentElement.dir === "rtl");
  await page.waitForSelector("#passes img.qr");
  await checkPage(page, "ar");
  assert.match(await page.textContent("#booking-status"), /مؤكد/);
  await shot(page, "member-passes-ar", { docs: true });
  await page.reload();
  await page.waitForSelector("#booking-status");
  await checkPage(page, "ar");
  confirmed = { id, arrival };
});

E.it("a declined card leaves the booking held and says so", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr", width: 390, height: 844 }); // a phone
  await login(page, env.url + "/", "100002");
  await page.waitForSelector("#centres");
  await page.click('[data-centre="asianda"] a');
  await page.waitForSelector("#cal-grid");
  await page.check("#type-studio");
  const arrival = env.addDays(env.today, 30);
  await pickDates(page, arrival, env.addDays(arrival, 2));
  await page.click("#book-submit");
  await page.waitForSelector('#booking-status[data-status="held"]');
  await Promise.all([page.waitForURL(/fim\/est3Dgate/), page.click("#pay")]);
  await payOnGateway(page, DECLINE);
  assert.match(page.url(), /\/payments\/fail/);
  assert.equal(await page.getAttribute("#state", "data-status"), "held");
  assert.match(await page.textContent("#state"), /n'a pas abouti/);
  await page.click('main a[href="/"]');
  await page.waitForSelector('#payment-result[data-result="declined"]');
  assert.match(await page.textContent("#payment-result"), /n'a pas abouti/);
  assert.equal(await page.getAttribute("#booking-status", "data-status"), "held");
  assert.ok(await page.isVisible("#pay"), "the member may try again");
  await checkPage(page, "fr");
  await shot(page, "payment-declined-fr", { docs: true });
});

E.it("cancelling shows the refund quote first, then the refund", async () => {
  assert.ok(confirmed, "needs the booking paid in the first test");
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await login(page, env.url + "/", "100001");
  await page.waitForSelector("#centres");
  await page.goto(env.url + "/#/booking/" + confirmed.id);
  await page.waitForSelector('#booking-status[data-status="confirmed"]');
  await page.click("#cancel");
  await page.waitForSelector("#cancel-panel #quote-text");
  // 20 days before arrival: 100 % of 750 MAD back, under the published policy
  const quote = await page.textContent("#quote-text");
  assert.match(quote, /100 %/);
  assert.match(quote, /750,00/);
  assert.equal(await page.getAttribute("#quote-text", "data-refund"), "75000");
  assert.equal((await page.$$("#cancel-panel .policy li")).length, 3);
  await checkPage(page, "fr");
  await shot(page, "member-cancel-quote-fr", { docs: true });
  await page.click("#cancel-confirm");
  await page.waitForSelector('#booking-status[data-status="cancelled"]');
  await page.waitForSelector("#refund-result");
  assert.match(await page.textContent("#refund-result"), /750,00/);
  await checkPage(page, "fr");
  await shot(page, "member-cancelled-fr");
  // the server agrees: the refund went to the gateway simulator
  const orders = await (await fetch(env.paysimUrl + "/sim/orders")).json();
  assert.ok(orders.orders.some((o) => o.refunded === "750.00"), "a refund of 750.00 at the gateway");
});

E.it("on a phone in Arabic: the booking form, then an ended session sends the member back to the login page", async () => {
  const { env } = E;
  const page = await E.page({ lang: "ar", width: 390, height: 844 }); // the browser's language picks Arabic
  await login(page, env.url + "/", "100003");
  await page.waitForSelector("#centres");
  assert.equal(await page.evaluate(() => document.documentElement.dir), "rtl");
  await checkPage(page, "ar");
  await shot(page, "member-home-ar");
  await page.click('[data-centre="al-arz"] a');
  await page.waitForSelector("#cal-grid");
  const arrival = env.addDays(env.today, 15);
  await pickDates(page, arrival, env.addDays(arrival, 4));
  await page.check("#guest-h0");
  await page.check("#guest-h1");
  await page.waitForSelector("#estimate:not(:empty)");
  assert.equal(await page.isEnabled("#book-submit"), true);
  await checkPage(page, "ar");
  await shot(page, "member-booking-ar", { docs: true });
  // the session ends on the server (as after the idle limit); the next call finds it gone
  await page.evaluate(async () => {
    const s = JSON.parse(sessionStorage.getItem("estiva.session"));
    await fetch("/api/v1/session", { method: "DELETE", headers: { "X-CSRF-Token": s.csrf } });
  });
  await page.click('.nav a[href="#/bookings"]');
  await page.waitForSelector("#session-expired");
  await page.waitForSelector("#login-form");
  await checkPage(page, "ar");
  await shot(page, "login-ar");
});

E.it("the portal works with the keyboard alone, with a visible focus", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await page.goto(env.url + "/");
  await page.waitForSelector("#login-member:focus");
  await page.keyboard.type("100004");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "login-password");
  await page.keyboard.type(require("./lib/env.js").PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#centres");
  // tab to the first centre's link and open it
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate(() => document.activeElement.matches('[data-centre="al-arz"] a'))) break;
  }
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(ring, "none", "the focused link shows a focus ring");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#cal-grid");
  // in the calendar: arrows move between days, Enter chooses
  const arrival = env.addDays(env.today, 3);
  const dep = env.addDays(arrival, 2);
  let cell = '#cal-grid [data-date="' + arrival + '"]';
  if (!(await page.$(cell))) {
    await page.focus("#cal-next");
    await page.keyboard.press("Enter");
    await page.waitForSelector(cell);
  }
  await page.focus(cell);
  await page.keyboard.press("Enter");
  await page.waitForSelector(cell + '[aria-pressed="true"]');
  await page.waitForFunction((c) => document.activeElement && document.activeElement.matches(c), cell);
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  if (!(await page.evaluate((d) => document.activeElement.dataset.date === d, dep))) {
    // the departure is in the next month: go there and pick it
    await page.focus("#cal-next");
    await page.keyboard.press("Enter");
    await page.waitForSelector('#cal-grid [data-date="' + dep + '"]');
    await page.focus('#cal-grid [data-date="' + dep + '"]');
  }
  await page.keyboard.press("Enter");
  await page.waitForSelector('#cal-grid [data-date="' + dep + '"].departure');
  await page.focus("#guest-h0");
  await page.keyboard.press("Space");
  await page.waitForSelector("#book-submit:not([disabled])");
  await page.focus("#book-submit");
  await page.keyboard.press("Enter");
  await page.waitForSelector('#booking-status[data-status="held"]');
  await checkPage(page, "fr");
});
