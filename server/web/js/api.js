// api.js: calls to the JSON API (docs/api.md): the CSRF token from the login kept in sessionStorage and
// sent on every unsafe request, the server's clock (for countdowns), and a clear sentence for every
// error code the server answers; never a raw code alone.
import { t, has, fmtNumber } from "./i18n.js";

const SESSION_KEY = "estiva.session";
let clockSkew = 0; // server time - local time, ms (from the Date header; only when clearly off)
let expiredHandler = null;

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter ? Number(retryAfter) : 0;
  }
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch (e) {
    return null;
  }
}

export function saveSession(s) {
  try {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  } catch (e) {
    // without storage the page still works until it is reloaded
  }
}

export function clearSession() {
  try {
    sessionStorage.removeItem(SESSION_KEY);
  } catch (e) {
    // nothing to clear
  }
}

// Called when the server says the session has ended (401 on a call made with a session).
export function onSessionExpired(fn) {
  expiredHandler = fn;
}

export function serverNow() {
  return Date.now() + clockSkew;
}

export async function api(method, path, body, headers) {
  const h = Object.assign({ Accept: "application/json" }, headers || {});
  const s = session();
  if (method !== "GET" && s && s.csrf) h["X-CSRF-Token"] = s.csrf;
  const init = { method, headers: h, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    h["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", String(e));
  }
  const date = Date.parse(res.headers.get("Date") || "");
  if (!isNaN(date)) {
    const skew = date - Date.now();
    clockSkew = Math.abs(skew) > 2000 ? skew : 0; // the header has whole seconds: ignore small offsets
  }
  if (res.status === 204) return null;
  let data = null;
  if ((res.headers.get("Content-Type") || "").includes("json")) {
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data && data.error ? data.error : {};
    const err = new ApiError(res.status, e.code || "http_" + res.status, e.message, res.headers.get("Retry-After"));
    if (res.status === 401 && err.code === "unauthenticated" && s) {
      clearSession();
      if (expiredHandler) expiredHandler(err);
    }
    throw err;
  }
  return data;
}

// A sentence for an error, in the page's language. Codes without their own sentence get the one of
// their HTTP status, with the code in brackets for whoever reports it.
export function errorText(err) {
  if (!(err instanceof ApiError)) return t("err.unexpected");
  const key = "err." + err.code;
  if (err.code === "too_many_attempts") {
    const minutes = Math.max(1, Math.ceil((err.retryAfter || 60) / 60));
    return t("err.too_many_attempts", { n: minutes, minutes: fmtNumber(minutes) });
  }
  if (has(key)) return t(key);
  const byStatus = "err.status_" + err.status;
  return (has(byStatus) ? t(byStatus) : t("err.unexpected")) + " (" + err.code + ")";
}

// 128 random bits as hex, for Idempotency-Key.
export function randomKey() {
  const a = new Uint8Array(16);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}
