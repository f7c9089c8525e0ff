// The daemon's section of `npm run bench` (also runnable alone: node bench/daemon.mjs): what the daemon adds
// to a request, and 100 concurrent clients with a policy and an audit file in force. Prints, never asserts.
//  a. per request on an open connection: `code` straight to the emulator's device link vs through the daemon
//  b. per connection: connect + first `code` through the daemon (the kernel's credentials read by the perl
//     helper, then the policy) — what every `hwtotp` command pays once
//  c. 100 clients connecting at once, one `code` each, policy (fenced slot) and audit file on: total time,
//     p50/p99 of connect → reply, several rounds
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as OTPAuth from "otpauth";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "host/bin/hwtotp.js");
const B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const KEY = Buffer.from(OTPAuth.Secret.fromBase32(B32).bytes).toString("hex");
const otp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) });
const N = Number(process.env.BENCH_DAEMON_N || 300);
const ROUNDS = Number(process.env.BENCH_DAEMON_ROUNDS || 5);

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const median = (xs) => pct(xs, 50);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** net.connect options for a device or daemon address: tcp://HOST:PORT, unix:PATH, or a socket path. */
function connectOpts(address) {
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(address);
  if (m) return { host: m[1], port: Number(m[2]) };
  return { path: address.replace(/^unix:/, "") };
}

/** A raw protocol client (also bench/run.mjs): sends lines, resolves replies (not press notices) by id. */
export function rawClient(opts) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(opts);
    const pending = new Map();
    let buf = "";
    let id = 1;
    sock.setEncoding("utf8");
    sock.setNoDelay?.(true);
    sock.on("error", reject);
    sock.on("data", (s) => {
      buf += s;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let r;
        try {
          r = JSON.parse(line);
        } catch {
          continue; // not a frame (a device's boot noise)
        }
        if ("press" in r) continue;
        pending.get(r.id)?.(r);
        pending.delete(r.id);
      }
    });
    sock.on("connect", () =>
      resolve({
        request(op, a = {}) {
          const n = id++;
          return new Promise((res) => {
            pending.set(n, res);
            sock.write(JSON.stringify({ v: 1, id: n, op, a }) + "\n");
          });
        },
        close: () => sock.destroy(),
      }),
    );
  });
}

function startBg(args, env, children) {
  const p = spawn(process.execPath, [BIN, ...args], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.push(p);
  p.stdout.setEncoding("utf8");
  p.stderr.setEncoding("utf8");
  return p;
}

function stop(p) {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    p.once("exit", r);
    process.kill(p.pid, "SIGTERM");
  });
}

async function perRequest(c, n) {
  for (let i = 0; i < 30; i++) await c.request("code", { name: "bench" });
  const xs = [];
  let last;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    last = await c.request("code", { name: "bench" });
    xs.push(performance.now() - t0);
  }
  const right = last.ok && last.d.codes[0].code === otp.generate({ timestamp: last.d.t * 1000 });
  return { median: median(xs), p99: pct(xs, 99), right };
}

/** connect + first code, n connections one after the other (`gap` ms between: the device link takes a moment to free). */
async function connectEach(opts, gap, n) {
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = await rawClient(opts);
    const r = await c.request("code", { name: "bench" });
    xs.push(performance.now() - t0);
    if (!r.ok) throw new Error("code: " + r.m);
    c.close();
    if (gap) await sleep(gap);
  }
  return { median: median(xs), p99: pct(xs, 99) };
}

export async function runDaemonBench(log = console.log) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-bench-daemon-"));
  fs.chmodSync(tmp, 0o700);
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, XDG_RUNTIME_DIR: tmp, HWTOTP_SOCKET: path.join(tmp, "none.sock") };
  delete env.HWTOTP_DEVICE;
  const children = [];
  const out = {};
  try {
    // The emulator, as `hwtotp emulate` runs it (its heap walk every 64 tasks weighs on both sides alike: medians).
    const emu = startBg(["emulate", "--json", "--board", "pico", "--state", path.join(tmp, "emu.json")], env, children);
    const device = await new Promise((resolve, reject) => {
      let s = "";
      emu.stdout.on("data", (d) => {
        s += d;
        if (s.includes("\n")) resolve(JSON.parse(s).device);
      });
      emu.once("exit", (c) => reject(new Error("emulator exited " + c)));
    });
    // a. straight to the device link (it serves one connection at a time: before the daemon takes it)
    const direct = await rawClient(connectOpts(device));
    const added = await direct.request("add", { name: "bench", key: KEY });
    if (!added.ok && added.e !== "E_EXISTS") throw new Error("add failed: " + added.m);
    await direct.request("add", { name: "other", key: "22".repeat(20) });
    out.direct = await perRequest(direct, N);
    direct.close();
    await sleep(200);
    out.connectDirect = await connectEach(connectOpts(device), 30, 50);

    const sock = path.join(tmp, "d", "hwtotp.sock");
    const policy = path.join(tmp, "policy.yaml");
    // policy on: this uid fenced to one slot and two ops, every request checked against it
    fs.writeFileSync(policy, `rules:\n  - {uid: ${process.getuid?.()}, slots: [bench], ops: [code, info]}\n`, { mode: 0o600 });
    const audit = path.join(tmp, "audit.jsonl");
    const daemon = startBg(["daemon", "--device", device, "--socket", sock, "--policy", policy, "--audit", audit], env, children);
    let dlog = "";
    daemon.stderr.on("data", (s) => (dlog += s));
    for (let i = 0; !/connected: firmware/.test(dlog); i++) {
      if (i > 500) throw new Error("daemon did not connect: " + dlog);
      await sleep(20);
    }
    const via = await rawClient({ path: sock });
    out.daemon = await perRequest(via, N);
    via.close();

    // b. connect + first code, one connection after the other
    out.connect = await connectEach({ path: sock }, 0, 50);

    // c. 100 at once
    out.rounds = [];
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now();
      const each = await Promise.all(
        Array.from({ length: 100 }, async () => {
          const s = performance.now();
          const c = await rawClient({ path: sock });
          const r = await c.request("code", { name: "bench" });
          const ms = performance.now() - s;
          c.close();
          return { ms, ok: r.ok && r.d.codes[0].code === otp.generate({ timestamp: r.d.t * 1000 }) };
        }),
      );
      const total = performance.now() - t0;
      out.rounds.push({
        total,
        p50: pct(
          each.map((x) => x.ms),
          50,
        ),
        p99: pct(
          each.map((x) => x.ms),
          99,
        ),
        good: each.filter((x) => x.ok).length,
      });
      await sleep(300);
    }
    // a denied request costs what a plain one does, minus the device
    const deny = await rawClient({ path: sock });
    const td = performance.now();
    for (let i = 0; i < 100; i++) await deny.request("code", { name: "other" });
    out.denied = (performance.now() - td) / 100;
    deny.close();
    out.auditLines = fs.readFileSync(audit, "utf8").trim().split("\n").length;
    await stop(daemon);
    await stop(emu);
  } finally {
    for (const p of children) await stop(p).catch(() => {});
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

export function printDaemonBench(r, log = console.log) {
  const f = (x) => x.toFixed(2).padStart(7) + " ms";
  log("   a. per request on an open connection (" + N + " sequential code requests, median / p99)");
  log(
    "      straight to the emulator's device link " +
      f(r.direct.median) +
      " / " +
      f(r.direct.p99) +
      "   (code correct: " +
      r.direct.right +
      ")",
  );
  log(
    "      through the daemon (policy + audit)    " +
      f(r.daemon.median) +
      " / " +
      f(r.daemon.p99) +
      "   (code correct: " +
      r.daemon.right +
      ")",
  );
  log("      added by the daemon                    " + f(r.daemon.median - r.direct.median));
  log("      a request the policy denies (no device) " + f(r.denied));
  log("   b. connect + first code, 50 connections one after the other (median / p99)");
  log("      straight to the emulator's device link " + f(r.connectDirect.median) + " / " + f(r.connectDirect.p99));
  log(
    "      through the daemon                     " +
      f(r.connect.median) +
      " / " +
      f(r.connect.p99) +
      "   (kernel credentials via perl, policy, audit)",
  );
  log("      added by the daemon                    " + f(r.connect.median - r.connectDirect.median));
  log("   c. 100 clients at once, one code each, policy and audit file on (" + r.rounds.length + " rounds)");
  for (const x of r.rounds)
    log("      " + x.good + "/100 correct, total " + f(x.total) + ", connect → reply p50 " + f(x.p50) + ", p99 " + f(x.p99));
  const tot = r.rounds.map((x) => x.total);
  log("      median total " + f(median(tot)) + "; audit lines written: " + r.auditLines);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(
    "hwtotp daemon bench: node " + process.version + ", " + os.cpus().length + " CPU(s), load average " + os.loadavg()[0].toFixed(1),
  );
  runDaemonBench()
    .then((r) => printDaemonBench(r))
    .catch((e) => {
      console.error("bench failed: " + (e.stack || e));
      process.exitCode = 1;
    });
}
