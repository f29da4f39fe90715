// i18n.js: the language of the pages, Arabic (right to left) or French, chosen from the browser's
// languages, switchable on every page and remembered (localStorage). Every string lives in one file per
// language (/i18n/fr.js, /i18n/ar.js); dates and MAD amounts are formatted for the language with Intl.
import fr from "../i18n/fr.js";
import ar from "../i18n/ar.js";

const STRINGS = { fr, ar };
export const LANGS = ["fr", "ar"];
const STORE_KEY = "estiva.lang";
const LOCALES = { fr: "fr-MA", ar: "ar-MA" };
export const TIME_ZONE = "Africa/Casablanca"; // the centres' time zone (catalog.timezone)

let lang = initialLang();
const listeners = [];

function initialLang() {
  let saved = null;
  try {
    saved = localStorage.getItem(STORE_KEY);
  } catch (e) {
    saved = null; // storage refused (private mode): fall back to the browser's languages
  }
  if (LANGS.includes(saved)) return saved;
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "fr"];
  for (const l of wanted) {
    const p = String(l).toLowerCase().slice(0, 2);
    if (LANGS.includes(p)) return p;
  }
  return "fr";
}

export function getLang() {
  return lang;
}

export function locale() {
  return LOCALES[lang];
}

export function dir() {
  return lang === "ar" ? "rtl" : "ltr";
}

// Switches the language, remembers it and tells every listener (the page re-renders itself).
export function setLang(l) {
  if (!LANGS.includes(l) || l === lang) return;
  lang = l;
  try {
    localStorage.setItem(STORE_KEY, l);
  } catch (e) {
    // not remembered, still switched
  }
  applyDocument();
  for (const fn of listeners) fn(l);
}

export function onLangChange(fn) {
  listeners.push(fn);
}

// <html lang dir>, and every element with data-i18n (text) or data-i18n-attr="attr:key;attr:key".
export function applyDocument(root) {
  const doc = document.documentElement;
  doc.lang = lang;
  doc.dir = dir();
  const scope = root || document;
  for (const node of scope.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of scope.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) node.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

function lookup(table, key) {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

// t("book.nights", {n: 3}): the string for the current language; {name} placeholders are replaced;
// a value that is an object picks its plural form from params.n (Intl.PluralRules: Arabic has six).
// A missing key shows as the key itself (the browser tests look for any).
export function t(key, params) {
  let v = lookup(STRINGS[lang], key);
  if (v === undefined) {
    console.error("i18n: missing " + lang + " string " + key);
    return key;
  }
  if (typeof v === "object") {
    const n = params && typeof params.n === "number" ? params.n : 0;
    const form = new Intl.PluralRules(locale()).select(n);
    v = v[form] !== undefined ? v[form] : v.other;
  }
  if (params) {
    v = v.replace(/\{(\w+)\}/g, (m, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m
    );
  }
  return v;
}

export function has(key) {
  return lookup(STRINGS[lang], key) !== undefined;
}

// Everything the strings files hold (the tests compare the two languages).
export function allKeys(l) {
  return Object.keys(STRINGS[l || lang]);
}

// ---- formatting ----

export function fmtMoney(m) {
  if (!m || typeof m.centimes !== "number") return "—";
  return new Intl.NumberFormat(locale(), { style: "currency", currency: m.currency || "MAD" }).format(m.centimes / 100);
}

export function fmtNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

// "YYYY-MM-DD" (a local date of the centre) as a Date at UTC midnight: formatting it in UTC never shifts it.
export function dateOf(s) {
  const [y, m, d] = s.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

export function isoDate(dt) {
  return dt.toISOString().slice(0, 10);
}

export function addDays(s, n) {
  const dt = dateOf(s);
  dt.setUTCDate(dt.getUTCDate() + n);
  return isoDate(dt);
}

export function daysBetween(a, b) {
  return Math.round((dateOf(b) - dateOf(a)) / 86400000);
}

export function fmtDate(s, style) {
  const opts =
    style === "short"
      ? { day: "numeric", month: "short" }
      : style === "day"
      ? { weekday: "short", day: "numeric", month: "short" }
      : style === "long"
      ? { weekday: "long", day: "numeric", month: "long", year: "numeric" }
      : { weekday: "short", day: "numeric", month: "short", year: "numeric" };
  return new Intl.DateTimeFormat(locale(), { ...opts, timeZone: "UTC" }).format(dateOf(s));
}

export function fmtMonth(y, m) {
  return new Intl.DateTimeFormat(locale(), { month: "long", year: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, 1))
  );
}

// Monday-first short weekday names.
export function weekdayNames() {
  const f = new Intl.DateTimeFormat(locale(), { weekday: "short", timeZone: "UTC" });
  const out = [];
  for (let i = 0; i < 7; i++) out.push(f.format(new Date(Date.UTC(2024, 0, 1 + i)))); // 2024-01-01 is a Monday
  return out;
}

// "a, b and c" in the language ("أ وب وج" in Arabic).
export function fmtList(items) {
  return new Intl.ListFormat(locale(), { style: "long", type: "conjunction" }).format(items);
}

// An instant (ISO 8601 UTC) in the centres' time zone.
export function fmtInstant(iso, withDate) {
  if (!iso) return "—";
  const opts = withDate === false ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" };
  return new Intl.DateTimeFormat(locale(), { ...opts, timeZone: TIME_ZONE }).format(new Date(iso));
}

// Today in the centres' time zone, as YYYY-MM-DD.
export function today() {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: TIME_ZONE,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(new Date());
  const get = (type) => parts.find((p) => p.type === type).value;
  return get("year") + "-" + get("month") + "-" + get("day");
}

// mm:ss (or h:mm:ss) of a duration in milliseconds, with the language's digits.
export function fmtDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const nf = new Intl.NumberFormat(locale(), { minimumIntegerDigits: 2, useGrouping: false });
  return (h ? new Intl.NumberFormat(locale()).format(h) + ":" : "") + nf.format(m) + ":" + nf.format(sec);
}

// A name in the page's language when there is one (catalog objects carry name_fr and name_ar).
export function nameOf(obj, field) {
  const f = field || "name";
  return (lang === "ar" ? obj[f + "_ar"] : obj[f + "_fr"]) || obj[f + "_fr"] || obj[f + "_ar"] || obj.id || "";
}
