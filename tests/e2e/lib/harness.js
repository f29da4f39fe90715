// harness.js: one Estiva and one browser per test file (node --test runs each file in its own process).
// A failing test leaves a screenshot of every open page and keeps the environment's folder (logs,
// database) under the output folder.
"use strict";
const { before, after, test } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { startEstiva } = require("./env.js");
const browserLib = require("./browser.js");

// opts: as startEstiva's; setup(env): makes the file's data once the server runs (in the same hook:
// node's root-level hooks are not run one after the other).
function useEstiva(opts, setup) {
  const h = { env: null, browser: null, pages: [], failed: false };
  before(async () => {
    h.env = await startEstiva(opts);
    try {
      if (setup) await setup(h.env);
      h.browser = await browserLib.launch();
    } catch (e) {
      h.failed = true;
      throw e;
    }
  });
  after(async () => {
    if (h.browser) await h.browser.close();
    if (h.env) await h.env.stop(h.failed);
  });
  h.page = async (o) => {
    const p = await browserLib.newPage(h.browser, o);
    h.pages.push(p);
    return p;
  };
  h.it = (title, fn) =>
    test(title, async (t) => {
      try {
        await fn(t);
      } catch (e) {
        h.failed = true;
        let i = 0;
        for (const p of h.pages) {
          if (p.isClosed()) continue;
          try {
            await browserLib.shot(p, "FAILED-" + title.replace(/[^a-z0-9]+/gi, "-").slice(0, 60) + "-" + i++, { fullPage: true });
          } catch (ignored) {
            // the page may be gone with the failure
          }
        }
        throw e;
      } finally {
        for (const p of h.pages) if (!p.isClosed()) await p.context().close();
        h.pages = [];
      }
    });
  return h;
}

// Clicks through the calendar: the arrival, then the departure (navigating months as needed).
async function pickDates(page, arrival, departure) {
  for (const d of [arrival, departure]) {
    for (let i = 0; i < 12; i++) {
      const cell = await page.$('#cal-grid [data-date="' + d + '"]');
      if (cell) break;
      const shown = await page.getAttribute("#cal-grid [data-date]", "data-date");
      await page.click(shown < d ? "#cal-next" : "#cal-prev");
      await page.waitForFunction((s) => !document.querySelector('#cal-grid [data-date="' + s + '"]'), shown);
    }
    await page.click('#cal-grid [data-date="' + d + '"]:not([disabled])');
    await page.waitForSelector('#cal-grid [data-date="' + d + '"][aria-pressed="true"], #cal-grid [data-date="' + d + '"].departure');
  }
}

// Pays a held booking through the gateway simulator without a browser: the signed form, then the card.
async function payByCard(env, call, id, pan) {
  const r = await call("POST", "/api/v1/bookings/" + id + "/payment", { lang: "fr" });
  assert.equal(r.status, 201, r.text);
  let res = await fetch(r.json.gateway_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(r.json.fields).toString(),
  });
  const html = await res.text();
  const m = /name="token" value="([0-9a-f]+)"/.exec(html);
  assert.ok(m, "the gateway's card page: " + html.slice(0, 300));
  res = await fetch(env.paysimUrl + "/fim/pay", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: m[1], pan, expiry: "12/39", cvc: "123", holder: "Test Holder" }).toString(),
  });
  await res.text();
}

// Waits until the page's download link gives a file, and returns its name and text.
async function download(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  const file = await dl.path();
  const fs = require("node:fs");
  return { name: dl.suggestedFilename(), text: fs.readFileSync(file, "utf8"), file: path.basename(file) };
}

module.exports = { useEstiva, pickDates, payByCard, download, ...browserLib };
