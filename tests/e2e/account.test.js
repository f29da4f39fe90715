// Members' own accounts in the browser (account.html): from the login page's "first time" link to
// a password and a login, and a reset in Arabic that ends the member's other sessions. The link is
// read from the message the server queued (the outbox row's payload: these tests run no SMTP
// server; tests/integration/test_accounts.c reads the same links from real messages).
"use strict";
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const path = require("node:path");
const { useEstiva, checkPage, shot } = require("./lib/harness.js");

const E = useEstiva({ name: "account", hold: "20m", sweep: "1s" });
const NEW_PASSWORD = "Cedre-Ifrane-2031";

// The link of the member's newest message of this template.
function lastLink(env, member, template) {
  const out = execFileSync("sqlite3", [path.join(env.dir, "estiva.db"),
    "SELECT json_extract(o.payload, '$.link') FROM outbox o JOIN members m ON m.id = o.member" +
    " WHERE m.number = '" + member + "' AND o.template = '" + template + "' ORDER BY o.id DESC LIMIT 1"]).toString().trim();
  assert.match(out, /\/account\.html#(activate|reset)=[0-9a-f]{64}$/, "a link in the " + template + " message");
  return out;
}

E.it("a member without a password activates the account from the login page, then logs in", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await page.goto(env.url + "/");
  await page.click("#link-activate");
  await page.waitForSelector("#acct-ask");
  await checkPage(page, "fr");
  await page.fill("#acct-member", "100006");
  await page.fill("#acct-other", "F678901");
  await page.click("#acct-ask-submit");
  await page.waitForSelector("#acct-sent");
  assert.match(await page.textContent("#acct-sent"), /30 minutes/);
  await shot(page, "account-activate-fr");
  const link = lastLink(env, "100006", "activate");
  assert.ok(link.startsWith(env.url + "/account.html#activate="));
  await page.goto(link);
  await page.waitForSelector("#acct-set");
  assert.ok(!(await page.evaluate(() => location.href)).includes("activate="), "the token left the address bar");
  await checkPage(page, "fr");
  await page.fill("#acct-password", "court");
  await page.fill("#acct-again", "court");
  await page.click("#acct-set-submit");
  await page.waitForSelector("#acct-set-msg .notice-error");
  await page.fill("#acct-password", NEW_PASSWORD);
  await page.fill("#acct-again", NEW_PASSWORD);
  await page.click("#acct-set-submit");
  await page.waitForSelector("#acct-done");
  await page.click("#acct-login");
  await page.fill("#login-member", "100006");
  await page.fill("#login-password", NEW_PASSWORD);
  await page.click("#login-submit");
  await page.waitForSelector("#centres");
  await checkPage(page, "fr");
  // the same link a second time
  await page.goto(link);
  await page.waitForSelector("#acct-set");
  await page.fill("#acct-password", "Another-pass-2031");
  await page.fill("#acct-again", "Another-pass-2031");
  await page.click("#acct-set-submit");
  await page.waitForSelector("#acct-set-msg .notice-error");
  assert.match(await page.textContent("#acct-set-msg"), /déjà servi/);
});

E.it("a reset in Arabic sets a new password and ends the member's other sessions", async () => {
  const { env } = E;
  const other = await env.client("100002");
  assert.equal((await other("GET", "/api/v1/me")).status, 200);
  const page = await E.page({ lang: "ar" });
  await page.goto(env.url + "/");
  await page.click("#link-forgot");
  await page.waitForSelector("#acct-ask");
  await page.fill("#acct-member", "100002");
  await page.click("#acct-ask-submit");
  await page.waitForSelector("#acct-sent");
  await checkPage(page, "ar");
  await shot(page, "account-forgot-ar");
  await page.goto(lastLink(env, "100002", "reset"));
  await page.waitForSelector("#acct-set");
  await page.fill("#acct-password", NEW_PASSWORD);
  await page.fill("#acct-again", NEW_PASSWORD);
  await page.click("#acct-set-submit");
  await page.waitForSelector("#acct-done");
  await checkPage(page, "ar");
  assert.equal((await other("GET", "/api/v1/me")).status, 401, "the other session ended");
  const fresh = await env.client("100002").catch((e) => e);
  assert.ok(fresh instanceof Error, "the old password no longer logs in");
});

E.it("a logged-in member changes phone, language of messages and password on the account page", async () => {
  const { env } = E;
  const page = await E.page({ lang: "fr" });
  await page.goto(env.url + "/");
  await page.fill("#login-member", "100003");
  await page.fill("#login-password", env.password);
  await page.click("#login-submit");
  await page.waitForSelector("#centres");
  await page.click('.nav a[href="/account.html#/settings"]');
  await page.waitForSelector("#acct-contact");
  await checkPage(page, "fr");
  await page.fill("#acct-phone", "+212 611 22 33 44");
  await page.selectOption("#acct-locale", "ar");
  await page.click("#acct-contact-submit");
  await page.waitForSelector("#acct-saved");
  await page.fill("#acct-current", "Wrong-pass-2024");
  await page.fill("#acct-new-password", NEW_PASSWORD);
  await page.fill("#acct-new-again", NEW_PASSWORD);
  await page.click("#acct-change-submit");
  await page.waitForSelector("#acct-change-msg .notice-error");
  await page.fill("#acct-current", env.password);
  await page.click("#acct-change-submit");
  await page.waitForSelector("#acct-changed");
  await shot(page, "account-settings-fr");
  const out = execFileSync("sqlite3", [path.join(env.dir, "estiva.db"),
    "SELECT phone || '|' || locale FROM members WHERE number = '100003'"]).toString().trim();
  assert.equal(out, "+212 611 22 33 44|ar");
});
