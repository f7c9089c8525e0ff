// The Keystone section of `npm run bench` (also runnable alone: node bench/keystone.mjs): the openstack CLI
// asking the token itself through the keystoneauth plugin (clouds.yaml auth_type hwtotp, daemon running)
// against the oathtool way (OS_PASSCODE=$(oathtool …) openstack …, auth_type v3multifactor), alternating
// (A, B, C, A, B, C, …), on a real Keystone (Debian's, on 127.0.0.1: test/harness/e2e/keystone.ts) with
// the firmware in the emulator. Goal (issue 13): plugin ≤ 1.02× the oathtool way. Prints, never asserts.
//   A  openstack --os-cloud hw project list           plugin, token cache on (what a user runs: one code per token lifetime)
//   B  OS_PASSCODE=$(oathtool …) openstack --os-cloud mfa project list     one password+TOTP login per call
//   C  openstack --os-cloud hw-nocache project list   plugin with hwtotp_token_cache: off (every call logs in:
//      password, receipt, a code from the daemon, receipt+totp)
// Process start-up (~1 s of Python imports) makes A/B/C noisy on a shared machine, so the login alone is also
// timed inside one Python process, alternating: the plugin without cache (D) against keystoneauth's
// v3multifactor with a passcode from an oathtool process (E), each with a fresh session.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tsImport } from "tsx/esm/api";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "host/bin/hwtotp.js");
const RUNS = Number(process.env.BENCH_KEYSTONE_RUNS || 15);
// Times D and E (see the top) in one interpreter; the options (they hold the password) come on stdin.
const LOGIN_TIMER = `
import json, subprocess, sys, time
from keystoneauth1 import session
from keystoneauth1.loading import get_plugin_loader
o = json.load(sys.stdin)
d, e = [], []
for i in range(o['runs'] + 1):
    t0 = time.perf_counter()
    p = get_plugin_loader('hwtotp').load_from_options(**o['plugin'])
    p.get_access(session.Session(auth=p))
    t1 = time.perf_counter()
    with open(o['seed']) as f:
        code = subprocess.run(['oathtool', '--totp', '-b', '-'], stdin=f, capture_output=True, text=True, check=True).stdout.strip()
    m = get_plugin_loader('v3multifactor').load_from_options(passcode=code, **o['mfa'])
    m.get_access(session.Session(auth=m))
    t2 = time.perf_counter()
    if i > 0:
        d.append((t1 - t0) * 1000)
        e.append((t2 - t1) * 1000)
print(json.dumps({'D': d, 'E': e}))
`;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;

function whyNot() {
  const missing = ["keystone-manage", "uwsgi", "openstack", "oathtool"].filter((c) => !has(c));
  if (missing.length)
    return `not installed: ${missing.join(", ")} (as root: scripts/apt-install.sh keystone python3-openstackclient oathtool uwsgi uwsgi-plugin-python3; npm run test:e2e installs them)`;
  if (spawnSync("/usr/bin/python3", ["-c", "import keystoneauth1"]).status !== 0)
    return "/usr/bin/python3 has no keystoneauth1 (python3-openstackclient)";
  return null;
}

/** A background hwtotp process whose output goes to a file (read with p.log()): the timed runs below are
 * spawnSync, which holds this process's event loop, so a pipe would not be read while they run. */
/** @returns {import("node:child_process").ChildProcess & { log(): string }} */
function startBg(args, env, logTo, file) {
  const fd = fs.openSync(file, "wx", 0o600);
  const p = /** @type {import("node:child_process").ChildProcess & { log(): string }} */ (
    spawn(process.execPath, [BIN, ...args], { env, detached: true, stdio: ["ignore", fd, fd] })
  );
  fs.closeSync(fd);
  p.log = () => fs.readFileSync(file, "utf8");
  if (logTo) logTo.push(p);
  return p;
}

async function waitFor(what, cond, ms = 30000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stop(p) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once("exit", r));
  process.kill(p.pid, "SIGTERM"); // by its pid
  await gone;
}

function runOk(cmd, args, env, input) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: "utf8", input: input ?? "" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

/** Runs the comparison; returns the figures, or { skipped } when the Debian packages are not here. */
/** @param {(line: string) => void} [log] */
export async function runKeystoneBench(log = () => {}) {
  const why = whyNot();
  if (why) return { skipped: why };
  const { startKeystone } = await tsImport(pathToFileURL(path.join(ROOT, "test/harness/e2e/keystone.ts")).href, import.meta.url);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-bench-ks-"));
  fs.chmodSync(tmp, 0o700);
  const procs = [];
  let ks = null;
  try {
    log("  starting Keystone on 127.0.0.1 …");
    ks = await startKeystone();
    const user = await ks.createUser("bench", "demo");
    const emu = startBg(
      ["emulate", "--json", "--auto-press", "--state", path.join(tmp, "emu.json")],
      process.env,
      procs,
      path.join(tmp, "emu.log"),
    );
    await waitFor("the emulator", () => /"device"/.test(emu.log()));
    const out = emu.log();
    const device = JSON.parse(out.slice(out.indexOf("{"), out.indexOf("}") + 1)).device;
    const sock = path.join(tmp, "run", "hwtotp.sock");
    fs.mkdirSync(path.dirname(sock), { mode: 0o700 });
    /** @type {NodeJS.ProcessEnv} */
    const env = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OS_") && !k.startsWith("HWTOTP_")) env[k] = v;
    Object.assign(env, {
      HWTOTP_DEVICE: device,
      HWTOTP_SOCKET: sock,
      HWTOTP_TOKEN_CACHE: path.join(tmp, "cache", "tokens.json"),
      OS_CLIENT_CONFIG_FILE: path.join(tmp, "clouds.yaml"), // written below as `clouds` PYTHONUSERBASE: path.join(tmp, "pyuser"),
      XDG_CACHE_HOME: path.join(tmp, "xdg-cache"),
      PYTHONWARNINGS: "ignore",
    });
    const auth = (u, pw, extra = "") =>
      `    auth:\n      auth_url: ${ks.url}\n      username: ${u}\n      password: "${pw}"\n      user_domain_name: Default\n` +
      `      project_name: ${u === "admin" ? "admin" : "demo"}\n      project_domain_name: Default\n${extra}    identity_api_version: 3\n`;
    const clouds = path.join(tmp, "clouds.yaml");
    fs.writeFileSync(clouds, "clouds:\n  admin:\n" + auth("admin", ks.admin.password), { mode: 0o600 });
    const daemon = startBg(["daemon", "--socket", sock], env, procs, path.join(tmp, "daemon.log"));
    await waitFor("the daemon", () => /connected: firmware/.test(daemon.log()));
    runOk(process.execPath, [BIN, "keystone", "enroll", "--os-cloud", "admin", "--user-id", "bench", "--name", "ks"], env);
    runOk(process.execPath, [BIN, "keystone", "plugin", "install", "--user"], env);
    const creds = /** @type {{ credentials: { blob: string }[] }} */ (
      await (
        await fetch(`${ks.url}/credentials?type=totp&user_id=${user.id}`, { headers: { "X-Auth-Token": await ks.adminToken() } })
      ).json()
    );
    const seed = path.join(tmp, "seed.b32");
    fs.writeFileSync(seed, creds.credentials[0].blob, { mode: 0o600 });
    fs.appendFileSync(
      clouds,
      "  hw:\n    auth_type: hwtotp\n" +
        auth("bench", user.password, "      hwtotp_slot: ks\n") +
        "  hw-nocache:\n    auth_type: hwtotp\n" +
        auth("bench", user.password, '      hwtotp_slot: ks\n      hwtotp_token_cache: "off"\n') +
        "  mfa:\n    auth_type: v3multifactor\n" +
        auth("bench", user.password, "      auth_methods: [v3password, v3totp]\n"),
    );
    const cmds = {
      A: ["openstack", ["--os-cloud", "hw", "project", "list", "-f", "value"]],
      B: ["bash", ["-c", `OS_PASSCODE=$(oathtool --totp -b - < '${seed}') exec openstack --os-cloud mfa project list -f value`]],
      C: ["openstack", ["--os-cloud", "hw-nocache", "project", "list", "-f", "value"]],
    };
    const xs = { A: [], B: [], C: [] };
    const codesOf = () => (daemon.log().match(/ code slot=/g) ?? []).length;
    const codesBefore = codesOf();
    log(`  ${RUNS} rounds of A, B, C (each an openstack process) …`);
    for (let i = 0; i < RUNS + 1; i++) {
      for (const [k, [cmd, args]] of Object.entries(cmds)) {
        const r = runOk(cmd, args, env);
        if (!r.stdout.includes(user.projectId)) throw new Error(`${k} listed no project: ${r.stdout}`);
        if (i > 0) xs[k].push(r.ms); // the first round fills the page cache and the token cache
      }
    }
    const codes = codesOf() - codesBefore;
    log(`  ${RUNS * 2} logins alone, D and E alternating, in one Python process …`);
    const base = {
      auth_url: ks.url,
      username: "bench",
      password: user.password,
      user_domain_name: "Default",
      project_name: "demo",
      project_domain_name: "Default",
    };
    const timer = spawnSync("/usr/bin/python3", ["-c", LOGIN_TIMER], {
      env,
      encoding: "utf8",
      input: JSON.stringify({
        runs: RUNS * 2,
        seed,
        plugin: { ...base, hwtotp_slot: "ks", hwtotp_token_cache: "off" },
        mfa: { ...base, auth_methods: ["v3password", "v3totp"] },
      }),
    });
    if (timer.status !== 0) throw new Error("login timer failed: " + timer.stderr);
    const logins = JSON.parse(timer.stdout);
    xs.D = logins.D;
    xs.E = logins.E;
    const m = Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, median(v)]));
    const pair = (k) => median(xs[k].map((x, i) => x / xs.B[i]));
    return {
      runs: RUNS,
      median: m,
      min: Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, Math.min(...v)])),
      ratioA: m.A / m.B,
      ratioC: m.C / m.B,
      pairA: pair("A"),
      pairC: pair("C"),
      addedA: m.A - m.B,
      addedC: m.C - m.B,
      loginAdded: m.D - m.E,
      pairD: median(xs.D.map((x, i) => x - xs.E[i])),
      codes,
      python: spawnSync(
        "/usr/bin/python3",
        [
          "-c",
          "import sys, keystoneauth1; from importlib.metadata import version; print(sys.version.split()[0], version('keystoneauth1'))",
        ],
        { encoding: "utf8" },
      ).stdout.trim(),
    };
  } finally {
    for (const p of procs.reverse()) await stop(p).catch(() => {});
    if (ks) await ks.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function printKeystoneBench(r, print = console.log) {
  if (r.skipped) return print("  skipped: " + r.skipped);
  const f = (x) => x.toFixed(0).padStart(6) + " ms";
  print(`  Python ${r.python.replace(" ", ", keystoneauth1 ")}; medians of ${r.runs} alternating rounds (min in brackets)`);
  print(
    `  A plugin, daemon, token cache on      ${f(r.median.A)}  [${f(r.min.A)}]  ratio to B ${r.ratioA.toFixed(3)} (median of pairs ${r.pairA.toFixed(3)}), added ${r.addedA.toFixed(0)} ms`,
  );
  print(`  B OS_PASSCODE=$(oathtool …) openstack ${f(r.median.B)}  [${f(r.min.B)}]`);
  print(
    `  C plugin, daemon, no cache (a login  ${f(r.median.C)}  [${f(r.min.C)}]  ratio to B ${r.ratioC.toFixed(3)} (median of pairs ${r.pairC.toFixed(3)}), added ${r.addedC.toFixed(0)} ms`,
  );
  print(`    per call: password, receipt, code, receipt+totp)`);
  print(
    `  goal A ≤ 1.02× B: ${r.ratioA <= 1.02 ? "met" : "NOT met"}; C (a fresh login every call) ${r.ratioC <= 1.02 ? "also meets it" : `misses it by ${((r.ratioC - 1.02) * 100).toFixed(1)} points`}`,
  );
  print(`  codes the plugin asked the daemon for in ${r.runs + 1} rounds: ${r.codes} (C: one per call; A: one per token lifetime)`);
  print(`  the login alone, in one Python process (median of ${r.min.D === undefined ? "?" : r.runs * 2}):`);
  print(`  D plugin: password, receipt, daemon code, receipt+totp ${f(r.median.D)}  [${f(r.min.D)}]`);
  print(`  E v3multifactor + an oathtool process                ${f(r.median.E)}  [${f(r.min.E)}]`);
  print(`    the plugin's login costs ${r.loginAdded.toFixed(1)} ms more (median of pairwise differences ${r.pairD.toFixed(1)} ms)`);
  print(
    `    = ${((r.pairD / r.median.B) * 100).toFixed(1)} % of an oathtool-way openstack call (B), i.e. C/B ≈ ${(1 + r.pairD / r.median.B).toFixed(3)} without start-up noise`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log("7. The openstack CLI: keystoneauth plugin (auth_type hwtotp) vs OS_PASSCODE=$(oathtool …), real Keystone");
  printKeystoneBench(await runKeystoneBench((l) => console.log(l)));
}
