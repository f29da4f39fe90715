// A hold that runs out is shown as expired (a server with an 8-second hold and a 1-second sweep).
"use strict";
const assert = require("node:assert/strict");
const { useEstiva, pickDates, login, checkPage, shot } = require("./lib/harness.js");

const E = useEstiva({ name: "expiry", hold: "8s", sweep: "1s" });

E.it("an expired hold is shown as expired, and its unit is free again", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await login(page, env.url + "/", "100004");
  await page.waitForSelector("#centres");
  await page.click('[data-centre="al-arz"] a');
  await page.waitForSelector("#cal-grid");
  const arrival = env.addDays(env.today, 5);
  await pickDates(page, arrival, env.addDays(arrival, 2));
  await page.check("#guest-h0"); // Khadija, spouse
  await page.click("#book-submit");
  await page.waitForSelector('#booking-status[data-status="held"]');
  const id = await page.getAttribute("#booking", "data-booking");
  const countdown = await page.$("#hold-countdown"); // gone already on a very slow machine
  if (countdown) assert.match(await countdown.textContent(), /00:0\d|expir|écoulé/);
  // the countdown reaches zero, the server releases the hold, the page shows it
  await page.waitForSelector('#booking-status[data-status="expired"]', { timeout: 20000 });
  assert.match(await page.textContent("#expired-notice"), /expiré/);
  assert.equal(await page.isVisible("#pay"), false, "no payment for an expired hold");
  await checkPage(page, "fr");
  await shot(page, "member-expired-fr");
  // in the list too
  await page.click('.nav a[href="#/bookings"]');
  await page.waitForSelector('[data-booking="' + id + '"] [data-status="expired"]');
  await checkPage(page, "fr");
  // and the nights are free again
  const call = await env.client("100005");
  const a = await call("GET", "/api/v1/centres/al-arz/availability?from=" + arrival + "&to=" + arrival);
  assert.equal(a.json.unit_types.find((u) => u.id === "bungalow").nights[0].free, 18);
});
