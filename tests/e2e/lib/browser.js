// browser.js: Debian's chromium driven by playwright-core (no browser download), and the checks every
// test makes on every page: the language's direction, no untranslated string key in the page, no script
// error; screenshots under the test output folder (and into docs/screenshots with
// ESTIVA_UPDATE_SCREENSHOTS=1); QR images decoded with zbarimg.
"use strict";
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { pathToFileURL } = require("node:url");
const { chromium } = require("playwright-core");
const { OUT, REPO, PASSWORD } = require("./env.js");

const CHROMIUM = process.env.ESTIVA_CHROMIUM || "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"];

async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

// A new context in a language (its navigator.language) and size; missing strings, anything the
// Content-Security-Policy refused, and uncaught exceptions are collected in page.problems.
async function newPage(browser, opts) {
  const o = Object.assign({ lang: "fr", width: 1280, height: 900 }, opts || {});
  const ctx = await browser.newContext({
    locale: o.lang === "ar" ? "ar-MA" : "fr-FR",
    viewport: { width: o.width, height: o.height },
    deviceScaleFactor: 1,
    acceptDownloads: true,
    timezoneId: "Africa/Casablanca",
  });
  ctx.setDefaultTimeout(15000);
  const page = await ctx.newPage();
  page.problems = [];
  page.on("console", (m) => {
    const text = m.text();
    if (m.type() === "error" && (text.startsWith("i18n:") || /Content Security Policy/i.test(text))) page.problems.push(text);
  });
  page.on("pageerror", (e) => page.problems.push("page error: " + e.message));
  return page;
}

async function login(page, url, user) {
  await page.goto(url);
  await page.fill("#login-member", user);
  await page.fill("#login-password", PASSWORD);
  await page.click("#login-submit");
}

// The first segments of every string key ("book", "err", ...): text in a page that looks like one of
// them followed by ".word" is a key that was never translated.
let keyPattern = null;
async function untranslatedPattern() {
  if (!keyPattern) {
    const fr = (await import(pathToFileURL(path.join(REPO, "server/web/i18n/fr.js")).href)).default;
    const spaces = [...new Set(Object.keys(fr).map((k) => k.split(".")[0]))];
    keyPattern = new RegExp("\\b(?:" + spaces.join("|") + ")\\.[a-z][a-z0-9_]*\\b");
  }
  return keyPattern;
}

// The page is in lang, mirrored for Arabic, shows no string key, and raised no script error.
async function checkPage(page, lang) {
  await page.waitForFunction(() => !document.querySelector(".loading"), null, { timeout: 10000 }).catch(() => {});
  const info = await page.evaluate(() => {
    const attrs = [];
    for (const el of document.querySelectorAll("[aria-label],[title],[alt],[placeholder]"))
      for (const a of ["aria-label", "title", "alt", "placeholder"]) if (el.hasAttribute(a)) attrs.push(el.getAttribute(a));
    const svgTitles = Array.from(document.querySelectorAll("svg title"), (n) => n.textContent);
    return { dir: document.documentElement.dir, lang: document.documentElement.lang, title: document.title,
      text: document.body.innerText, attrs: attrs.concat(svgTitles) };
  });
  assert.equal(info.lang, lang, "html lang");
  assert.equal(info.dir, lang === "ar" ? "rtl" : "ltr", "html dir for " + lang);
  const re = await untranslatedPattern();
  for (const s of [info.title, info.text, ...info.attrs]) {
    const m = re.exec(s || "");
    assert.equal(m, null, "untranslated key " + (m && m[0]) + " in: " + (s || "").slice(0, 200));
  }
  assert.deepEqual(page.problems, [], "script errors or missing strings");
}

function shotDir() {
  const d = path.join(OUT, "screenshots");
  fs.mkdirSync(d, { recursive: true });
  return d;
}

// Saves a screenshot under the output folder; those marked {docs: true} also go to docs/screenshots
// (for the README) when ESTIVA_UPDATE_SCREENSHOTS=1.
async function shot(page, name, opts) {
  const { docs, ...o } = opts || {};
  const file = path.join(shotDir(), name + ".png");
  await page.screenshot(Object.assign({ path: file, fullPage: true, animations: "disabled", caret: "hide" }, o));
  if (docs && process.env.ESTIVA_UPDATE_SCREENSHOTS === "1") {
    const docs = path.join(REPO, "docs/screenshots");
    fs.mkdirSync(docs, { recursive: true });
    fs.copyFileSync(file, path.join(docs, name + ".png"));
  }
  return file;
}

// The text of the QR code in a PNG, read by zbarimg (Debian zbar-tools).
function decodeQR(png) {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "estiva-qr-")), "qr.png");
  fs.writeFileSync(f, png);
  try {
    return execFileSync("zbarimg", ["--raw", "-q", "-Sbinary", f], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).replace(/\n$/, "");
  } finally {
    fs.rmSync(path.dirname(f), { recursive: true, force: true });
  }
}

module.exports = { launch, newPage, login, checkPage, shot, decodeQR };
