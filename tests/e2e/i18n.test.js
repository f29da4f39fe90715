// The strings files themselves: French and Arabic have the same keys, the same {placeholders}, plural
// forms for every count, and a sentence for every error code the API documents (docs/api.md,
// docs/payments.md), so that no page ever shows a raw code alone.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { pathToFileURL } = require("node:url");
const { REPO } = require("./lib/env.js");

async function load(lang) {
  return (await import(pathToFileURL(path.join(REPO, "server/web/i18n", lang + ".js")).href)).default;
}

function placeholders(v) {
  const texts = typeof v === "object" ? Object.values(v) : [v];
  const out = new Set();
  for (const s of texts) for (const m of s.matchAll(/\{(\w+)\}/g)) out.add(m[1]);
  return [...out].sort();
}

test("French and Arabic have the same keys, placeholders and plural forms", async () => {
  const fr = await load("fr");
  const ar = await load("ar");
  assert.deepEqual(Object.keys(ar).sort(), Object.keys(fr).sort());
  for (const k of Object.keys(fr)) {
    for (const [lang, table] of [["fr", fr], ["ar", ar]]) {
      const v = table[k];
      assert.ok(typeof v === "string" ? v.trim().length > 0 : typeof v === "object" && typeof v.other === "string", lang + " " + k);
      if (typeof v === "object") for (const f of Object.keys(v)) assert.ok(["zero", "one", "two", "few", "many", "other"].includes(f), lang + " " + k + " " + f);
    }
    // a placeholder that one language fills must exist in the other, except counts spelt out in words
    const a = placeholders(fr[k]);
    const b = placeholders(ar[k]);
    const loose = (x) => x.filter((p) => !["count", "nights", "days", "guests", "minutes"].includes(p));
    assert.deepEqual(loose(b), loose(a), "placeholders of " + k);
  }
  // Arabic strings are Arabic (a few are the same in both: language names, the CSV button's format)
  const arabic = /[\u0600-\u06FF]/;
  for (const [k, v] of Object.entries(ar)) {
    if (k === "lang.fr") continue;
    const s = typeof v === "object" ? v.other : v;
    assert.match(s, arabic, "ar " + k + " looks untranslated: " + s);
  }
});

test("every error code in the API documents has a sentence in both languages", async () => {
  const fr = await load("fr");
  const ar = await load("ar");
  const docs = ["docs/api.md", "docs/payments.md"].map((f) => fs.readFileSync(path.join(REPO, f), "utf8")).join("\n");
  const codes = new Set();
  // the error table, the 422 list, and "409 hold_expired"-style mentions
  for (const m of docs.matchAll(/\|\s*\d{3}\s*\|([^|]+)\|/g)) for (const c of m[1].matchAll(/`([a-z_]+)`/g)) codes.add(c[1]);
  const list = /422 codes:([\s\S]*?)\n\n/.exec(docs);
  if (list) for (const c of list[1].matchAll(/`([a-z_]+)`/g)) codes.add(c[1]);
  for (const m of docs.matchAll(/\b[45]\d\d `([a-z_]+)`/g)) codes.add(m[1]);
  assert.ok(codes.size >= 30, "found the documented codes (" + codes.size + ")");
  for (const c of codes) {
    assert.ok(fr["err." + c], "fr err." + c);
    assert.ok(ar["err." + c], "ar err." + c);
  }
});

test("the pages load nothing from another host and no inline script or style", () => {
  const web = path.join(REPO, "server/web");
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else files.push(path.join(d, e.name));
    }
  };
  walk(web);
  for (const f of files) {
    const s = fs.readFileSync(f, "utf8");
    const rel = path.relative(web, f);
    assert.doesNotMatch(s, /(src|href)=["']?(https?:)?\/\//i, rel + " loads from another host");
    assert.doesNotMatch(s, /@import|url\(\s*["']?(https?:)?\/\//i, rel + " imports from another host");
    assert.doesNotMatch(s, /\beval\(|new Function\(|innerHTML|outerHTML|insertAdjacentHTML|document\.write/, rel + " uses eval or HTML strings");
    if (f.endsWith(".html")) {
      assert.doesNotMatch(s, /<script(?![^>]*\bsrc=)[^>]*>/i, rel + " has an inline script");
      assert.doesNotMatch(s, /<style|\sstyle=|\son[a-z]+=/i, rel + " has an inline style or handler");
    }
  }
});
