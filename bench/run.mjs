// npm run bench: prints (never asserts) the host bridge's figures.
//  1. cold `hwtotp code NAME` against an emulator over TCP vs `node -e 0` (goal ≤ 2×)
//  2. the same through the daemon
//  3. 100 concurrent clients through the daemon (goal: all correct within 1 s), as sockets and as processes
//  4. device time per code per board profile (emulator, loopback round trip included)
//  5. device work per request on the real interpreter (Espruino's Linux build, 2,500 variables, 32 slots)
//     against a plain ES5 HOTP in the same build, and its heap after boot (bench/real.mjs; alone: node bench/real.mjs)
//  6. the daemon: latency it adds per request and per connection, 100 clients at once with a policy (bench/daemon.mjs)
//  7. the openstack CLI through the keystoneauth plugin vs OS_PASSCODE=$(oathtool …), real Keystone (goal ≤ 1.02×;
//     bench/keystone.mjs; skipped without the Debian packages)
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as OTPAuth from "otpauth";
import { printRealBench, runRealBench } from "./real.mjs";
import { printDaemonBench, rawClient, runDaemonBench } from "./daemon.mjs";
import { printKeystoneBench, runKeystoneBench } from "./keystone.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "host/bin/hwtotp.js");
const B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const otp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) });
const RUNS = Number(process.env.BENCH_RUNS || 15);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-bench-"));
fs.chmodSync(tmp, 0o700);
/** @type {NodeJS.ProcessEnv} */
const baseEnv = { ...process.env, XDG_RUNTIME_DIR: tmp, HWTOTP_SOCKET: path.join(tmp, "none.sock") };
delete baseEnv.HWTOTP_DEVICE;
const children = [];

const ms = (ns) => Number(ns) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => x.toFixed(1).padStart(7) + " ms";

/**
 * Times several commands, interleaved (a, b, c, a, b, c, …) so that a busy machine weighs on all alike.
 * `cmds` maps a label to [args, env]. Returns label → { median, min } wall-clock ms.
 */
function timeInterleaved(cmds, runs = RUNS) {
  const xs = Object.fromEntries(Object.keys(cmds).map((k) => [k, /** @type {number[]} */ ([])]));
  for (let i = 0; i < runs + 1; i++) {
    for (const [k, [args, env]] of Object.entries(cmds)) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, args, { env: env ?? baseEnv, encoding: "utf8" });
      const dt = ms(process.hrtime.bigint() - t0);
      if (r.status !== 0) throw new Error(args.join(" ") + " failed: " + r.stderr);
      if (i > 0) xs[k].push(dt); // the first round warms the page cache
    }
  }
  return Object.fromEntries(Object.entries(xs).map(([k, v]) => [k, { median: median(v), min: Math.min(...v) }]));
}

function startBg(args, env = baseEnv) {
  const p = spawn(process.execPath, [BIN, ...args], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.push(p);
  p.stdout.setEncoding("utf8");
  p.stderr.setEncoding("utf8");
  return p;
}

async function startEmulator(board) {
  // TCP, named (emulate's default is a Unix socket): section 4 speaks to the port itself, and the figures
  // stay comparable with earlier runs
  const p = startBg(["emulate", "--json", "--tcp", "--board", board, "--state", path.join(tmp, board + ".json")]);
  const info = await new Promise((resolve, reject) => {
    let out = "";
    p.stdout.on("data", (s) => {
      out += s;
      if (out.includes("\n")) resolve(JSON.parse(out));
    });
    p.once("exit", (c) => reject(new Error("emulator exited " + c)));
  });
  return { p, device: info.device };
}

function stop(p) {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    p.once("exit", r);
    process.kill(p.pid, "SIGTERM");
  });
}

async function waitFor(cond, ms = 10000) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  console.log(
    "hwtotp bench: node " +
      process.version +
      ", " +
      os.cpus().length +
      " CPU(s) " +
      os.cpus()[0].model +
      ", " +
      RUNS +
      " interleaved runs, medians, load average " +
      os.loadavg()[0].toFixed(1) +
      "\n",
  );

  // 1. Cold start against the emulator over TCP.
  const { p: emu, device } = await startEmulator("pico");
  const env = { ...baseEnv, HWTOTP_DEVICE: device };
  const add = spawnSync(process.execPath, [BIN, "add", "bench", "--secret", "-"], { env, input: B32, encoding: "utf8" });
  if (add.status !== 0) throw new Error("add failed: " + add.stderr);
  const check = spawnSync(process.execPath, [BIN, "code", "bench", "--json"], { env, encoding: "utf8" });
  const cd = JSON.parse(check.stdout);
  const ok1 = cd.codes[0].code === otp.generate({ timestamp: cd.t * 1000 });
  // The emulator's device link serves one connection at a time (like a serial port), so the direct runs
  // come first, then the daemon takes the link; node -e 0 is measured in both rounds.
  const T = timeInterleaved({
    node0: [["-e", "0"]],
    version: [[BIN, "--version"]],
    cold: [[BIN, "code", "bench"], env],
  });
  const sock = path.join(tmp, "daemon.sock");
  const denv = { ...baseEnv, HWTOTP_SOCKET: sock };
  let log = "";
  const daemon = startBg(["daemon", "--device", device, "--socket", sock], denv);
  daemon.stderr.on("data", (s) => (log += s));
  await waitFor(() => /connected: firmware/.test(log));
  const T2 = timeInterleaved({ node0: [["-e", "0"]], daemon: [[BIN, "code", "bench"], denv] });
  const { node0, version, cold } = T;
  const { node0: node0b, daemon: viaDaemon } = T2;
  console.log("1. Cold start (emulator on tcp://127.0.0.1, code correct: " + ok1 + ")");
  console.log("   node -e 0                      " + fmt(node0.median) + "   (min " + node0.min.toFixed(1) + ")");
  console.log("   hwtotp --version               " + fmt(version.median) + "   " + (version.median / node0.median).toFixed(2) + "× node");
  console.log(
    "   hwtotp code NAME (direct TCP)  " + fmt(cold.median) + "   " + (cold.median / node0.median).toFixed(2) + "× node   (goal ≤ 2×)",
  );

  console.log("\n2. Through the daemon");
  console.log("   node -e 0 (same rounds)        " + fmt(node0b.median));
  console.log(
    "   hwtotp code NAME (daemon)      " + fmt(viaDaemon.median) + "   " + (viaDaemon.median / node0b.median).toFixed(2) + "× node",
  );

  // 3. 100 concurrent clients.
  const clients = await Promise.all(Array.from({ length: 100 }, () => rawClient({ path: sock })));
  const t0 = process.hrtime.bigint();
  const replies = await Promise.all(clients.map((c) => c.request("code", { name: "bench" })));
  const wall = ms(process.hrtime.bigint() - t0);
  const good = replies.filter((r) => r.ok && r.d.codes[0].code === otp.generate({ timestamp: r.d.t * 1000 })).length;
  clients.forEach((c) => c.close());
  console.log("\n3. 100 concurrent clients through the daemon (goal: all correct within 1 s)");
  console.log("   socket clients: " + good + "/100 correct in " + wall.toFixed(1) + " ms");
  const t1 = process.hrtime.bigint();
  const procs = await Promise.all(
    Array.from(
      { length: 100 },
      () =>
        new Promise((resolve) => {
          const c = spawn(process.execPath, [BIN, "code", "bench", "--json"], { env: denv, stdio: ["ignore", "pipe", "ignore"] });
          let out = "";
          c.stdout.setEncoding("utf8").on("data", (s) => (out += s));
          c.on("close", (code) => resolve(code === 0 ? JSON.parse(out) : null));
        }),
    ),
  );
  const wallP = ms(process.hrtime.bigint() - t1);
  const goodP = procs.filter((d) => d && d.codes[0].code === otp.generate({ timestamp: d.t * 1000 })).length;
  console.log(
    "   hwtotp processes: " +
      goodP +
      "/100 correct in " +
      wallP.toFixed(0) +
      " ms (" +
      os.cpus().length +
      " CPUs start 100 Node processes)",
  );
  await stop(daemon);
  await stop(emu);

  // 4. Device time per code per board.
  console.log("\n4. Time per code on each board profile (emulator; one request at a time over loopback TCP)");
  const key = Buffer.from(OTPAuth.Secret.fromBase32(B32).bytes).toString("hex");
  for (const board of ["pico", "puckjs", "bangle2", "original", "linux"]) {
    let e;
    try {
      e = await startEmulator(board);
    } catch (err) {
      console.log("   " + board.padEnd(9) + " could not start: " + (err instanceof Error ? err.message : String(err)));
      continue;
    }
    const port = Number(/** @type {RegExpExecArray} */ (/:(\d+)$/.exec(e.device))[1]);
    const c = await rawClient({ host: "127.0.0.1", port });
    const hello = await c.request("hello");
    await c.request("add", { name: "b", key });
    for (let i = 0; i < 20; i++) await c.request("code", { name: "b" });
    const n = 200;
    const ta = process.hrtime.bigint();
    let last;
    for (let i = 0; i < n; i++) last = await c.request("code", { name: "b" });
    const per = ms(process.hrtime.bigint() - ta) / n;
    const right = last.ok && last.d.codes[0].code === otp.generate({ timestamp: last.d.t * 1000 });
    const tb = process.hrtime.bigint();
    for (let i = 0; i < 50; i++) await c.request("time");
    const rtt = ms(process.hrtime.bigint() - tb) / 50;
    console.log(
      "   " +
        board.padEnd(9) +
        (hello.d?.board ?? "?").padEnd(12) +
        " algs " +
        (hello.d?.algs ?? []).join("/").padEnd(19) +
        per.toFixed(3) +
        " ms/code  (a time request: " +
        rtt.toFixed(3) +
        " ms; code correct: " +
        right +
        ")",
    );
    c.close();
    await stop(e.p);
  }

  // 5. The real interpreter.
  console.log(
    "\n5. Device work per request on the real interpreter (CPU time of the process, 8 in flight, 32 slots; goals as ratios to R)",
  );
  printRealBench(await runRealBench((l) => console.log(l)));

  // 6. The daemon: what it adds per request, per connection, and 100 clients at once with a policy on.
  console.log("\n6. The daemon (bench/daemon.mjs; alone: node bench/daemon.mjs)");
  printDaemonBench(await runDaemonBench());

  // 7. Keystone and the openstack CLI.
  console.log(
    "\n7. The openstack CLI: keystoneauth plugin (auth_type hwtotp) vs OS_PASSCODE=$(oathtool …), real Keystone " +
      "(bench/keystone.mjs; alone: node bench/keystone.mjs)",
  );
  printKeystoneBench(await runKeystoneBench((l) => console.log(l)));
}

main()
  .catch((e) => {
    console.error("bench failed: " + (e.stack || e));
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const p of children) await stop(p).catch(() => {});
    fs.rmSync(tmp, { recursive: true, force: true });
  });
