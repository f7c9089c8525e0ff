// A private single-node Ceph cluster for the e2e suite: one mon, one memstore OSD and radosgw (no mgr),
// all on 127.0.0.1 with free ports, in a temp dir. Facts it rests on: docs/facts/ceph.md.
//
// Every daemon runs in its own session (detached) and is stopped by its own pid — rgw, osd, mon — also
// when a start fails or the test process exits. A start that does not come up (the OSD's occasional
// "wrong fsid", a daemon that dies, a timeout) is torn down and bootstrapped afresh, with a message.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { HOTP, Secret } from "otpauth";
import { freePort } from "./keystone.ts";

export const CEPH_PACKAGES = ["ceph-mon", "ceph-osd", "radosgw", "ceph-common", "python3-boto3", "awscli", "oathtool"];
/** Debian's aws CLI (another `aws` may come first on PATH, e.g. from pyenv). */
export const DEBIAN_AWS = "/usr/bin/aws";
/** Debian's boto3 belongs to Debian's python; another python3 on PATH (pyenv) may lack it. */
export const DEBIAN_PYTHON = "/usr/bin/python3";

const ROOT = resolve(import.meta.dirname, "../../..");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never rejects on a non-zero exit (the caller judges the code). */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((res) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60000, maxBuffer: 16 << 20, cwd: opts.cwd },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 255) : 0;
        res({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Installs the Debian packages the suite needs when missing (root). Returns the milliseconds it took. */
export async function ensureCephPackages(): Promise<number> {
  const t0 = performance.now();
  const r = await run("bash", [join(ROOT, "scripts/apt-install.sh"), ...CEPH_PACKAGES], { timeoutMs: 900000 });
  if (r.code !== 0) throw new Error(`Installing ${CEPH_PACKAGES.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return performance.now() - t0;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once("error", () => res(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => res(true)));
  });
}

/** A run of `n` consecutive ports that are free now, for the messengers' `ms bind port min/max`. */
async function freePortRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`No run of ${n} free ports found on 127.0.0.1.`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Daemon {
  name: string;
  child: ChildProcess;
  exited: boolean;
  log: string;
}

/** Pids of every daemon any cluster of this process started and has not stopped: killed on exit. */
const livePids = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of livePids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  });
}

export interface CephTimings {
  /** performance.now() when the empty temp dir was made (of the attempt that came up). */
  t0: number;
  /** From the empty temp dir to the first `radosgw-admin mfa check` answering ok, ms (probe token). */
  toFirstMfaCheckOk: number;
  mon: number;
  osd: number;
  rgw: number;
  attempts: number;
}

export interface CephCluster {
  dir: string;
  conf: string;
  rgwPort: number;
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** Environment with CEPH_CONF pointing at the private ceph.conf (radosgw-admin, ceph). */
  env: NodeJS.ProcessEnv;
  timings: CephTimings;
  radosgwAdmin(args: string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult>;
  /** Creates an S3 user; its keys are returned, never printed. */
  createUser(uid: string): Promise<{ accessKey: string; secretKey: string }>;
  /** Pids of the running daemons (for tests that read /proc). */
  pids(): number[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Attempts before giving up (each from an empty dir). */
  attempts?: number;
  log?: (line: string) => void;
}

class StartFailure extends Error {}

/** Bootstraps the cluster, retrying from scratch when a start does not come up. */
export async function startCeph(opts: StartOptions = {}): Promise<CephCluster> {
  const attempts = opts.attempts ?? 3;
  const log = opts.log ?? ((l: string) => process.stderr.write(`[ceph] ${l}\n`));
  installExitHook();
  let last: Error | null = null;
  for (let i = 1; i <= attempts; i++) {
    try {
      return await startOnce(i, log);
    } catch (err) {
      last = err as Error;
      if (!(err instanceof StartFailure)) throw err;
      log(
        `start attempt ${i}/${attempts} did not come up: ${last.message}` +
          (i < attempts ? " — tearing down and bootstrapping afresh" : ""),
      );
    }
  }
  throw new Error(`Ceph did not come up after ${attempts} attempts; last: ${last?.message}`);
}

async function startOnce(attempt: number, log: (l: string) => void): Promise<CephCluster> {
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "hwtotp-ceph-"));
  const daemons: Daemon[] = [];
  const conf = join(dir, "ceph.conf");
  const env: NodeJS.ProcessEnv = { ...process.env, CEPH_CONF: conf };
  const c = (args: string[], timeoutMs = 30000) => run("ceph", ["-c", conf, "--connect-timeout", "15", ...args], { env, timeoutMs });

  async function stopAll(): Promise<void> {
    for (const d of [...daemons].reverse()) await stopDaemon(d);
  }

  try {
    for (const sub of ["mon/ceph-a", "osd/ceph-0", "run", "log", "rgw", "crash"]) mkdirSync(join(dir, sub), { recursive: true });
    const monPort = await freePort();
    const rgwPort = await freePort();
    const msBase = await freePortRange(40);
    const fsid = randomUUID();
    writeFileSync(
      conf,
      [
        "[global]",
        `fsid = ${fsid}`,
        "mon initial members = a",
        `mon host = v1:127.0.0.1:${monPort}`,
        "public addr = 127.0.0.1",
        "cluster addr = 127.0.0.1",
        "ms bind msgr2 = false",
        "ms bind ipv6 = false",
        `ms bind port min = ${msBase}`,
        `ms bind port max = ${msBase + 39}`,
        "auth cluster required = none",
        "auth service required = none",
        "auth client required = none",
        `keyring = ${dir}/keyring`,
        `run dir = ${dir}/run`,
        `admin socket = ${dir}/run/$name.asok`,
        `pid file = ${dir}/run/$name.pid`,
        `log file = ${dir}/log/$name.log`,
        `crash dir = ${dir}/crash`,
        `mon data = ${dir}/mon/$cluster-$id`,
        `osd data = ${dir}/osd/$cluster-$id`,
        "osd pool default size = 1",
        "osd pool default min size = 1",
        "mon allow pool size one = true",
        "mon warn on pool no redundancy = false",
        "osd pool default pg num = 8",
        "osd pool default pgp num = 8",
        "osd pool default pg autoscale mode = off",
        "osd crush chooseleaf type = 0",
        "osd objectstore = memstore",
        "osd fast shutdown = false",
        // The OSD's own crush update at start races its first monmap and is refused as 'wrong fsid' (the
        // command goes out with fsid 0): place it in the crush map from the CLI instead.
        "osd crush update on start = false",
        "osd class update on start = false",
        "memstore device bytes = 1073741824",
        "osd memory target = 939524096",
        "",
        "[client.rgw.a]",
        `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
        `rgw data = ${dir}/rgw`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );

    // mon: keyring (must exist for --mkfs even with auth none) → monmap → mkfs → start.
    const tMon = performance.now();
    await must(
      run("ceph-authtool", ["--create-keyring", join(dir, "keyring"), "--gen-key", "-n", "mon.", "--cap", "mon", "allow *"]),
      "ceph-authtool",
    );
    await must(
      run("monmaptool", ["--create", "--fsid", fsid, "--addv", "a", `[v1:127.0.0.1:${monPort}]`, join(dir, "monmap")]),
      "monmaptool",
    );
    await must(
      run("ceph-mon", ["-c", conf, "--mkfs", "-i", "a", "--monmap", join(dir, "monmap"), "--keyring", join(dir, "keyring")]),
      "ceph-mon --mkfs",
    );
    daemons.push(startDaemon(dir, "mon.a", "ceph-mon", ["-c", conf, "-f", "-i", "a"], env));
    await waitFor("mon", 30000, daemons, async () => (await c(["mon", "stat"], 20000)).code === 0);
    const monMs = performance.now() - tMon;

    // osd: id → mkfs → start; up when the osdmap says so.
    const tOsd = performance.now();
    const uuid = randomUUID();
    const id = (await must(c(["osd", "new", uuid]), "ceph osd new")).stdout.trim();
    if (id !== "0") throw new StartFailure(`ceph osd new gave id ${JSON.stringify(id)}, expected 0`);
    await must(c(["osd", "crush", "add", "osd.0", "1.0", "root=default"]), "ceph osd crush add");
    await must(run("ceph-osd", ["-c", conf, "-i", "0", "--mkfs", "--osd-uuid", uuid], { env }), "ceph-osd --mkfs");
    daemons.push(startDaemon(dir, "osd.0", "ceph-osd", ["-c", conf, "-f", "-i", "0"], env));
    await waitFor("osd", 45000, daemons, async () => {
      const osdLog = safeRead(join(dir, "log/osd.0.log"));
      if (osdLog.includes("wrong fsid")) throw new StartFailure("osd.0 log says 'wrong fsid' (a known flake of this bring-up)");
      const r = await c(["osd", "stat", "-f", "json"], 20000);
      if (r.code !== 0) return false;
      const s = JSON.parse(r.stdout) as { num_up_osds?: number };
      return s.num_up_osds === 1;
    });
    const osdMs = performance.now() - tOsd;

    // radosgw: its first start creates its pools; up when it answers HTTP.
    const tRgw = performance.now();
    daemons.push(startDaemon(dir, "client.rgw.a", "radosgw", ["-c", conf, "-f", "-n", "client.rgw.a"], env));
    await waitFor("radosgw", 90000, daemons, async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${rgwPort}/`, { signal: AbortSignal.timeout(2000) });
        return r.status === 200;
      } catch {
        return false;
      }
    });
    const rgwMs = performance.now() - tRgw;

    const admin = (args: string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) =>
      run("radosgw-admin", ["-c", conf, ...args], { env: o.env ?? env, timeoutMs: o.timeoutMs ?? 60000 });

    // Probe: a throwaway user and token; the first `mfa check` answering ok is the readiness mark.
    const probeSeed = randomBytes(20).toString("hex");
    await must(admin(["user", "create", "--uid=probe", "--display-name=probe"]), "radosgw-admin user create probe");
    await must(
      admin(["mfa", "create", "--uid=probe", "--totp-serial=probe", "--totp-seed-type=hex", "--totp-seconds=30", "--totp-window=2"], {
        env: { ...env, CEPH_ARGS: `--totp-seed=${probeSeed}` },
      }),
      "radosgw-admin mfa create (probe)",
    );
    const pin = HOTP.generate({ secret: Secret.fromHex(probeSeed), counter: Math.floor(Date.now() / 1000 / 30) });
    const check = await admin(["mfa", "check", "--uid=probe", "--totp-serial=probe", `--totp-pin=${pin}`]);
    if (check.code !== 0 || check.stdout.trim() !== "ok")
      throw new StartFailure(`probe mfa check answered ${check.code}: ${check.stdout.trim()} ${check.stderr.trim()}`);
    const toFirst = performance.now() - t0;
    log(
      `up in ${(toFirst / 1000).toFixed(1)} s (mon ${(monMs / 1000).toFixed(1)} s, osd ${(osdMs / 1000).toFixed(1)} s, rgw ${(rgwMs / 1000).toFixed(1)} s), attempt ${attempt}, dir ${dir}`,
    );

    let stopped = false;
    return {
      dir,
      conf,
      rgwPort,
      endpoint: `http://127.0.0.1:${rgwPort}`,
      env,
      timings: { t0, toFirstMfaCheckOk: toFirst, mon: monMs, osd: osdMs, rgw: rgwMs, attempts: attempt },
      radosgwAdmin: admin,
      async createUser(uid: string) {
        const r = await must(admin(["user", "create", `--uid=${uid}`, `--display-name=${uid}`]), `radosgw-admin user create ${uid}`);
        const u = JSON.parse(r.stdout) as { keys: { access_key: string; secret_key: string }[] };
        return { accessKey: u.keys[0].access_key, secretKey: u.keys[0].secret_key };
      },
      pids: () => daemons.filter((d) => !d.exited).map((d) => d.child.pid as number),
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
        if (!process.env.HWTOTP_KEEP_CEPH) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    const tail = daemons.map((d) => `${d.name}: ${lastLines(safeRead(d.log), 3)}`).join(" | ");
    if (!process.env.HWTOTP_KEEP_CEPH) rmSync(dir, { recursive: true, force: true });
    if (err instanceof StartFailure) throw new StartFailure(`${err.message}${tail ? ` [logs: ${tail}]` : ""}`);
    throw err;
  }
}

async function must(p: Promise<RunResult>, what: string): Promise<RunResult> {
  const r = await p;
  if (r.code !== 0) throw new StartFailure(`${what} exited ${r.code}: ${lastLines(r.stderr || r.stdout, 3)}`);
  return r;
}

function startDaemon(dir: string, name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Daemon {
  const log = join(dir, "log", `${name}.out`);
  const fd = openSync(log, "a", 0o600);
  const child = spawn(cmd, args, { env, detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const d: Daemon = { name, child, exited: false, log };
  if (child.pid) livePids.add(child.pid);
  child.on("exit", () => {
    d.exited = true;
    if (child.pid) livePids.delete(child.pid);
  });
  return d;
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.exited || !d.child.pid) return;
  const pid = d.child.pid;
  const gone = new Promise<void>((r) => (d.exited ? r() : d.child.once("exit", () => r())));
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }, 10000);
  await gone;
  clearTimeout(t);
}

async function waitFor(what: string, ms: number, daemons: Daemon[], ready: () => Promise<boolean>): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const dead = daemons.find((d) => d.exited);
    if (dead) throw new StartFailure(`${dead.name} exited (code ${dead.child.exitCode}) while waiting for ${what}`);
    if (await ready()) return;
    await sleep(250);
  }
  throw new StartFailure(`${what} not up within ${ms / 1000} s`);
}

function safeRead(p: string): string {
  try {
    return existsSync(p) ? readFileSync(p, "utf8") : "";
  } catch {
    return "";
  }
}

function lastLines(s: string, n: number): string {
  return s.trim().split("\n").slice(-n).join(" / ");
}
