// env.js: a fresh Estiva for one browser test file, in a temporary folder: the card gateway simulator
// (estiva-paysim) and estiva-server on ephemeral loopback ports, a database made with estiva-admin (init,
// import-members, set-password, add-user), centres whose seasons start today whatever the date, and the
// gateway credentials in files of mode 0600. The programs come from the build folder given by
// ESTIVA_BUILD (default ../../build from tests/e2e), or from ESTIVA_SERVER, ESTIVA_ADMIN, ESTIVA_PAYSIM.
"use strict";
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

const E2E_DIR = path.resolve(__dirname, "..");
const REPO = path.resolve(E2E_DIR, "../..");
const BUILD = path.resolve(E2E_DIR, process.env.ESTIVA_BUILD || "../../build");
const BIN = {
  server: process.env.ESTIVA_SERVER || path.join(BUILD, "server/estiva-server"),
  admin: process.env.ESTIVA_ADMIN || path.join(BUILD, "server/estiva-admin"),
  paysim: process.env.ESTIVA_PAYSIM || path.join(BUILD, "tools/estiva-paysim"),
};
const PASSWORD = "Estiva-e2e-2024";
const TIME_ZONE = "Africa/Casablanca";
// Where screenshots and logs of failed runs go.
const OUT = path.resolve(process.env.ESTIVA_E2E_OUT || path.join(BUILD, "e2e"));

// Accounts: members from config/demo/members.csv (100001 Karim El Amrani, cat-b, spouse Salma/1982,
// children Yassine/2010 and Lina/2014), and three staff users.
const ACCOUNTS = {
  members: ["100001", "100002", "100003", "100004", "100005"],
  manager: "manager", // al-arz and asianda
  asianda: "mgr-asianda", // asianda only
  admin: "admin",
};

function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit" }).format(
    new Date()
  );
}

function addDays(date, n) {
  const d = new Date(date + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what, fn, ms) {
  const end = Date.now() + (ms || 15000);
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      // not yet
    }
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function writeSecret(file, text) {
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

// Two centres with the real names and unit types, seasons relative to today: an off-season from a week
// ago for 200 nights (2 to 14 nights per stay), then a summer with 7-night rotations.
function centreFiles(dir) {
  const t = today();
  const low = { first: addDays(t, -7), last: addDays(t, 199) };
  const high = { first: addDays(t, 200), last: addDays(t, 241) };
  const cats = ["cat-a", "cat-b", "cat-c", "retired"];
  const centres = [
    {
      file: "al-arz.ini", id: "al-arz", number: 1, name_fr: "Centre Al Arz", name_ar: "مركز الأرز", city_fr: "Ifrane", city_ar: "إفران",
      types: [
        { id: "bungalow", fr: "Bungalow familial", ar: "بنغالو عائلي", min: 2, max: 6, units: "B01-B18", price: [180, 250, 320, 150] },
        { id: "room", fr: "Chambre", ar: "غرفة", min: 1, max: 3, units: "R01-R24", price: [110, 150, 190, 90] },
      ],
    },
    {
      file: "asianda.ini", id: "asianda", number: 2, name_fr: "Centre Asianda", name_ar: "مركز أسياندا", city_fr: "Sidi Bouzid", city_ar: "سيدي بوزيد",
      types: [
        { id: "apartment", fr: "Appartement familial", ar: "شقة عائلية", min: 2, max: 6, units: "A01-A30", price: [160, 220, 290, 140] },
        { id: "studio", fr: "Studio", ar: "استوديو", min: 1, max: 3, units: "S01-S20", price: [100, 140, 180, 80] },
      ],
    },
  ];
  fs.mkdirSync(path.join(dir, "centres"));
  for (const c of centres) {
    const lines = ["[centre]", "id = " + c.id, "number = " + c.number, "name_fr = " + c.name_fr, "name_ar = " + c.name_ar,
      "city_fr = " + c.city_fr, "city_ar = " + c.city_ar, "check_in = 15:00", "check_out = 11:00", ""];
    for (const u of c.types)
      lines.push("[unit_type " + u.id + "]", "name_fr = " + u.fr, "name_ar = " + u.ar, "min_guests = " + u.min,
        "max_guests = " + u.max, "units = " + u.units, "");
    lines.push("[season low-e2e]", "kind = low", "first_night = " + low.first, "last_night = " + low.last, "min_nights = 2",
      "max_nights = 14", "");
    lines.push("[season summer-e2e]", "kind = high", "first_night = " + high.first, "last_night = " + high.last,
      "rotation_nights = 7", "rotation_start = " + high.first, "");
    lines.push("[tariffs]");
    for (const u of c.types)
      for (const s of ["low-e2e", "summer-e2e"])
        cats.forEach((k, i) => lines.push(u.id + "." + s + "." + k + " = " + (u.price[i] * (s === "low-e2e" ? 1 : 1.4)).toFixed(2)));
    fs.writeFileSync(path.join(dir, "centres", c.file), lines.join("\n") + "\n");
  }
  fs.copyFileSync(path.join(REPO, "config/categories.ini"), path.join(dir, "categories.ini"));
}

function run(bin, args, input) {
  const r = spawnSync(bin, args, { input: input || "", encoding: "utf8" });
  if (r.status !== 0) throw new Error(path.basename(bin) + " " + args.join(" ") + " failed (" + r.status + "): " + r.stderr + r.stdout);
  return r.stdout;
}

// opts: {hold: "20m", sweep: "1s", name: "label"}
async function startEstiva(opts) {
  const o = Object.assign({ hold: "20m", sweep: "1s", name: "e2e" }, opts || {});
  for (const [k, f] of Object.entries(BIN))
    if (!fs.existsSync(f)) throw new Error("estiva " + k + " not found at " + f + " (build first, or set ESTIVA_BUILD)");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estiva-e2e-" + o.name + "-"));
  const procs = [];
  const env = { dir, today: today(), addDays, password: PASSWORD, accounts: ACCOUNTS, out: OUT };

  // the gateway simulator
  const clientId = "600000042";
  const storeKey = "e2e-store-key-" + Math.random().toString(36).slice(2);
  const apiUser = "estiva-api";
  const apiPassword = "e2e-api-" + Math.random().toString(36).slice(2);
  writeSecret(path.join(dir, "store.key"), storeKey + "\n");
  writeSecret(path.join(dir, "api.password"), apiPassword + "\n");
  const simLog = fs.openSync(path.join(dir, "paysim.log"), "a");
  const sim = spawn(BIN.paysim, ["--listen", "127.0.0.1", "--port", "0", "--port-file", path.join(dir, "paysim.port"),
    "--client-id", clientId, "--store-key-file", path.join(dir, "store.key"), "--api-user", apiUser,
    "--api-password-file", path.join(dir, "api.password"), "--db", path.join(dir, "paysim.db"),
    "--callback-retries", "2", "--callback-backoff-ms", "200"], { stdio: ["ignore", simLog, simLog], env: { ...process.env, TZ: TIME_ZONE } });
  procs.push(sim);
  const simPort = await waitFor("estiva-paysim's port", () => fs.readFileSync(path.join(dir, "paysim.port"), "utf8").trim());
  env.paysimUrl = "http://127.0.0.1:" + simPort;

  // the server's configuration
  const port = await freePort();
  env.url = "http://127.0.0.1:" + port;
  writeSecret(path.join(dir, "cmi.ini"), ["[cmi]", "client_id = " + clientId, "store_key = " + storeKey, "api_user = " + apiUser,
    "api_password = " + apiPassword, ""].join("\n"));
  centreFiles(dir);
  const conf = path.join(dir, "estiva-server.conf");
  fs.writeFileSync(conf, [
    "[server]", "listen = 127.0.0.1", "port = " + port, "threads = 4", "web_root = " + path.join(REPO, "server/web"), "",
    "[database]", "path = " + path.join(dir, "estiva.db"), "",
    "[bookings]", "hold = " + o.hold, "sweep_interval = " + o.sweep, "max_request_nights = 92", "",
    "[sessions]", "idle = 30m", "absolute = 12h", "",
    "[catalog]", "dir = " + path.join(dir, "centres"), "categories = " + path.join(dir, "categories.ini"), "timezone = " + TIME_ZONE, "",
    "[passes]", "key_dir = " + path.join(dir, "keys"), "",
    "[payment]", "gateway_url = " + env.paysimUrl + "/fim/est3Dgate", "api_url = " + env.paysimUrl + "/fim/api",
    "public_url = " + env.url, "credentials = " + path.join(dir, "cmi.ini"), "api_timeout = 5s", "session = 15m",
    "callback_margin = 10m", "reconcile_after = 15m", "reconcile_interval = 5m", "",
    "[cancellation]", "refund = 14:100, 3:50, 0:0", "",
  ].join("\n"));

  // the database
  const admin = (args, input) => run(BIN.admin, ["-c", conf, ...args], input);
  env.admin = admin;
  admin(["init"]);
  admin(["import-members", path.join(REPO, "config/demo/members.csv")]);
  admin(["set-password", ...ACCOUNTS.members], PASSWORD + "\n");
  admin(["add-user", ACCOUNTS.manager, "--role", "manager", "--centre", "al-arz", "--centre", "asianda"], PASSWORD + "\n");
  admin(["add-user", ACCOUNTS.asianda, "--role", "manager", "--centre", "asianda"], PASSWORD + "\n");
  admin(["add-user", ACCOUNTS.admin, "--role", "admin"], PASSWORD + "\n");

  // the server
  const serverLog = fs.openSync(path.join(dir, "server.log"), "a");
  const server = spawn(BIN.server, ["-c", conf, "--port-file", path.join(dir, "server.port")],
    { stdio: ["ignore", serverLog, serverLog], env: { ...process.env, TZ: TIME_ZONE } });
  procs.push(server);
  let exited = null;
  server.on("exit", (code, sig) => (exited = { code, sig }));
  await waitFor("estiva-server", async () => {
    if (exited) throw new Error("estiva-server exited: " + fs.readFileSync(path.join(dir, "server.log"), "utf8"));
    const r = await fetch(env.url + "/healthz");
    return r.ok;
  }).catch((e) => {
    for (const p of procs) p.kill("SIGTERM");
    throw new Error(e.message + "\n" + fs.readFileSync(path.join(dir, "server.log"), "utf8").slice(-2000));
  });

  // Stops both programs; keeps the folder when keep is true (a failed test), else removes it. Both must
  // exit 0 on SIGTERM: a sanitizer report (ASan build) or a crash makes the stop throw.
  env.stop = async (keep) => {
    const bad = [];
    for (const p of procs) {
      if (p.exitCode === null && p.signalCode === null) {
        const done = new Promise((r) => p.once("exit", r));
        p.kill("SIGTERM");
        await Promise.race([done, new Promise((r) => setTimeout(r, 10000))]);
        if (p.exitCode === null && p.signalCode === null) {
          p.kill("SIGKILL");
          await done;
        }
      }
      if (p.exitCode !== 0) bad.push(path.basename(p.spawnfile) + " exited " + (p.exitCode !== null ? p.exitCode : p.signalCode));
    }
    fs.closeSync(simLog);
    fs.closeSync(serverLog);
    if (bad.length) {
      keep = true;
      console.error(bad.join("; ") + "\n" + fs.readFileSync(path.join(dir, "server.log"), "utf8").slice(-4000));
    }
    if (keep) {
      fs.mkdirSync(OUT, { recursive: true });
      const to = path.join(OUT, path.basename(dir));
      fs.cpSync(dir, to, { recursive: true });
      console.error("kept the environment of the failed test in " + to);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    if (bad.length) throw new Error(bad.join("; "));
  };
  env.log = () => fs.readFileSync(path.join(dir, "server.log"), "utf8");

  // A JSON API client with its own session, for setting up data and checking the browser's work.
  env.client = async (user) => {
    const jar = { cookie: "", csrf: "" };
    const call = async (method, p, body, headers) => {
      const h = Object.assign({ Accept: "application/json" }, headers || {});
      if (jar.cookie) h.Cookie = jar.cookie;
      if (method !== "GET" && jar.csrf) h["X-CSRF-Token"] = jar.csrf;
      if (body !== undefined) h["Content-Type"] = "application/json";
      const r = await fetch(env.url + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
      const set = r.headers.get("set-cookie");
      if (set) jar.cookie = set.split(";")[0];
      const text = await r.text();
      let json = null;
      try {
        json = JSON.parse(text);
      } catch (e) {
        json = null;
      }
      return { status: r.status, json, text, headers: r.headers };
    };
    const login = await call("POST", "/api/v1/session", { member: user, password: PASSWORD });
    if (login.status !== 200) throw new Error("login " + user + ": " + login.status + " " + login.text);
    jar.csrf = login.json.csrf_token;
    return call;
  };
  return env;
}

module.exports = { startEstiva, today, addDays, PASSWORD, ACCOUNTS, OUT, REPO, E2E_DIR };
