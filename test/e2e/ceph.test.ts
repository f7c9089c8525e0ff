// End to end against a real Ceph RGW (Debian's Pacific: mon + memstore OSD + radosgw on 127.0.0.1) with
// the token in the emulator: enrolment, mfa check, S3 MFA-delete through Debian's boto3 and aws CLI via
// `hwtotp s3`, the replay-safe dispenser under bursts, and a resync after the token's clock jumped ahead.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../../firmware/emulator/index.ts";
import { readState } from "../../host/src/integrations/ceph/pin-dispenser.ts";
import { connectDaemon } from "../../host/src/daemon-client.ts";
import { BIN, type CliResult, ensureHostBuilt, privateEnv, runCli } from "../harness/cli-harness.ts";
import { watchArgv } from "../harness/e2e/argv-watch.ts";
import { type CephCluster, DEBIAN_AWS, DEBIAN_PYTHON, ensureCephPackages, run, startCeph } from "../harness/e2e/ceph.ts";

const S3OPS = resolve(import.meta.dirname, "../harness/e2e/ceph-s3ops.py");
const UID = "alice";
const SERIAL = "hw-e2e-1";
const BUCKET = "mfa-bucket";
/** RGW's --totp-seconds for this token: 10 s keeps the waits of the burst short; the logic is the same at 30. */
const PERIOD = 10;

const figures: { [k: string]: string } = {};
const note = (k: string, v: string) => {
  figures[k] = v;
  process.stderr.write(`[ceph e2e] ${k}: ${v}\n`);
};

let cluster: CephCluster | null = null;
let emu: Emulator | null = null;
let daemon: ChildProcess | null = null;
let env: NodeJS.ProcessEnv;
let stateDir: string;
let suiteT0 = 0;
let cephStartMs = 0;

function hwtotp(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { env: { ...env, ...extra } });
}

function s3env(keys: { accessKey: string; secretKey: string }): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: keys.accessKey,
    AWS_SECRET_ACCESS_KEY: keys.secretKey,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_MAX_ATTEMPTS: "1", // a retried request would replay its pin
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    S3_ENDPOINT: cluster!.endpoint,
  };
}

let keys: { accessKey: string; secretKey: string };

/** boto3 without MFA (a plain client). */
async function s3(op: string, ...args: string[]): Promise<{ ok: boolean; code?: string; status?: number; [k: string]: unknown }> {
  const r = await run(DEBIAN_PYTHON, [S3OPS, op, ...args], { env: { ...process.env, ...s3env(keys) } });
  if (r.code !== 0 && r.code !== 3) throw new Error(`s3ops ${op} exited ${r.code}: ${r.stderr.trim().slice(-400)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop() as string);
}

/** boto3 through `hwtotp s3` (the pin arrives in $HWTOTP_MFA). */
async function s3mfa(
  op: string,
  ...args: string[]
): Promise<{ cli: CliResult; out: { ok: boolean; code?: string; [k: string]: unknown } }> {
  const cli = await hwtotp(["s3", "--", DEBIAN_PYTHON, S3OPS, op, ...args], s3env(keys));
  const line = cli.stdout.trim().split("\n").pop() as string;
  if (!line) throw new Error(`hwtotp s3 ${op} printed nothing (exit ${cli.code}): ${cli.stderr.trim().slice(-400)}`);
  return { cli, out: JSON.parse(line) };
}

beforeAll(async () => {
  suiteT0 = performance.now();
  const installMs = await ensureCephPackages();
  note("apt install (when missing)", `${(installMs / 1000).toFixed(1)} s`);
  await ensureHostBuilt();
  const t = performance.now();
  cluster = await startCeph();
  cephStartMs = performance.now() - t;
  note(
    "ceph start (empty dir to probe mfa check ok)",
    `${(cluster.timings.toFirstMfaCheckOk / 1000).toFixed(1)} s, attempt ${cluster.timings.attempts}`,
  );
  // autoPress: a user at the board, who confirms the deletes of a rollback
  emu = createEmulator({ board: "pico", clock: Date.now() / 1000, autoPress: true });
  await emu.start();
  const { port } = await emu.listen();
  stateDir = mkdtempSync(join(tmpdir(), "hwtotp-mfa-e2e-"));
  // The daemon owns the device, as on a workstation: concurrent `hwtotp s3` runs go through it.
  const sock = join(stateDir, "daemon.sock");
  daemon = spawn(process.execPath, [BIN, "daemon", "--device", `tcp://127.0.0.1:${port}`, "--socket", sock], {
    env: privateEnv(),
    detached: true,
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    const link = await connectDaemon(sock);
    if (link) {
      await link.close();
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  env = privateEnv({ HWTOTP_SOCKET: sock, HWTOTP_MFA_STATE: stateDir, CEPH_CONF: cluster.conf });
  keys = await cluster.createUser(UID);
});

afterAll(async () => {
  if (daemon?.pid && daemon.exitCode === null) {
    const gone = new Promise((r) => daemon!.once("exit", r));
    process.kill(daemon.pid, "SIGTERM");
    await gone;
  }
  await emu?.stop();
  await cluster?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  const total = performance.now() - suiteT0;
  note(
    "ceph start-up share of the suite",
    `${(cephStartMs / 1000).toFixed(1)} s of ${(total / 1000).toFixed(1)} s (${((100 * cephStartMs) / total).toFixed(0)} %)`,
  );
});

describe("Ceph RGW MFA with the token in the emulator", () => {
  it("enrols: slot with serial, RGW registers it, and RGW accepts the token's first pin; no seed or pin on any argv", async () => {
    const { result: r, cmdlines } = await watchArgv(() =>
      hwtotp(["ceph", "enroll", "--uid", UID, "--serial", SERIAL, "--period", String(PERIOD), "--run", "--conf", cluster!.conf, "--json"]),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ uid: UID, serial: SERIAL, verified: true, slot: { name: "ceph-alice", serial: SERIAL } });
    note("empty dir to first `mfa check ok` through hwtotp enroll", `${((performance.now() - cluster!.timings.t0) / 1000).toFixed(1)} s`);
    const admins = [...cmdlines].filter((c) => c.includes("radosgw-admin"));
    expect(admins.length).toBeGreaterThan(0); // the sampler saw radosgw-admin run
    for (const c of cmdlines) expect(c).not.toMatch(/totp-seed=|totp-pin=/);
    const list = await cluster!.radosgwAdmin(["mfa", "list", `--uid=${UID}`]);
    expect(JSON.parse(list.stdout).entries.map((e: { id: string }) => e.id)).toContain(SERIAL);
  });

  it("`hwtotp ceph check` passes; a pin from `code --mfa-header` passes once and is refused replayed", async () => {
    const r = await hwtotp(["ceph", "check", "--uid", UID, "--run", "--conf", cluster!.conf]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("ok");
    expect(JSON.parse((await hwtotp(["code", "--json"])).stdout).via).toBe("daemon");
    // RGW's own replay guard, seen directly: a pin from `hwtotp code --mfa-header` passes once, never twice.
    const hdr = await hwtotp(["code", "--mfa-header", "ceph-alice"]);
    expect(hdr.code, hdr.stderr).toBe(0);
    const [serial, pin] = hdr.stdout.trim().split(" ");
    expect(serial).toBe(SERIAL);
    const check = () =>
      cluster!.radosgwAdmin(["mfa", "check", `--uid=${UID}`, `--totp-serial=${SERIAL}`], {
        env: { ...cluster!.env, CEPH_ARGS: `--totp-pin=${pin}` },
      });
    expect((await check()).stdout.trim()).toBe("ok");
    expect((await check()).code).toBe(13);
  });

  let versions: string[] = [];

  it("S3 MFA-delete: without MFA 403, through `hwtotp s3` (boto3 and aws) it succeeds", async () => {
    expect((await s3("setup", BUCKET)).ok).toBe(true);
    versions = (await s3("put", BUCKET, "doc", "16")).versions as string[];
    expect(versions).toHaveLength(16);

    expect(await s3("enable-mfa-delete", BUCKET)).toMatchObject({ ok: false, code: "AccessDenied", status: 403 });
    const en = await s3mfa("enable-mfa-delete", BUCKET);
    expect(en.out.ok, en.cli.stderr).toBe(true);
    expect(await s3("versioning", BUCKET)).toMatchObject({ status: "Enabled", mfaDelete: "Enabled" });

    expect(await s3("delete-version", BUCKET, "doc", versions[0])).toMatchObject({ ok: false, code: "AccessDenied", status: 403 });
    const del = await s3mfa("delete-version", BUCKET, "doc", versions[0]);
    expect(del.out.ok, del.cli.stderr).toBe(true);

    // Debian's aws CLI: the pin goes in a private --cli-input-json file, not on its argv.
    const { result: aws, cmdlines } = await watchArgv(() =>
      hwtotp(
        [
          "s3",
          "--",
          DEBIAN_AWS,
          "--endpoint-url",
          cluster!.endpoint,
          "s3api",
          "delete-object",
          "--bucket",
          BUCKET,
          "--key",
          "doc",
          "--version-id",
          versions[1],
        ],
        s3env(keys),
      ),
    );
    expect(aws.code, aws.stderr).toBe(0);
    for (const c of cmdlines) expect(c).not.toContain(SERIAL + " ");
    const left = (await s3("versions", BUCKET, "doc")).versions as string[];
    expect(left).not.toContain(versions[0]);
    expect(left).not.toContain(versions[1]);
  });

  it("two deletes inside one step both succeed: the second waits for the next step instead of a replay", async () => {
    const [a, b] = await Promise.all([
      s3mfa("delete-version", BUCKET, "doc", versions[2]),
      s3mfa("delete-version", BUCKET, "doc", versions[3]),
    ]);
    expect(a.out.ok, a.cli.stderr).toBe(true);
    expect(b.out.ok, b.cli.stderr).toBe(true);
    expect(a.cli.stderr + b.cli.stderr).toMatch(/Waiting \d+ s for the next step \(this step's pin was already used\)/);
  });

  it("a burst of 10 MFA-deletes uses one pin per request, each of a new step, none refused", async () => {
    const before = readState(stateDir, SERIAL).lastStep;
    const t = performance.now();
    const burst = await Promise.all(versions.slice(4, 14).map((v) => s3mfa("delete-version", BUCKET, "doc", v)));
    for (const d of burst) expect(d.out.ok, d.cli.stderr).toBe(true);
    const steps = burst.map((d) => Number(/step (\d+)/.exec(d.cli.stderr)![1]));
    expect(new Set(steps).size).toBe(10);
    expect(Math.min(...steps)).toBeGreaterThan(before);
    note("burst of 10 MFA-deletes (separate requests)", `10 pins, ${((performance.now() - t) / 1000).toFixed(0)} s (one step each)`);
    // The same deletes as one DeleteObjects request cost one pin.
    const rest = versions.slice(14);
    const one = await hwtotp(["s3", "--", DEBIAN_PYTHON, S3OPS, "delete-versions", BUCKET, "doc", ...rest], s3env(keys));
    expect(JSON.parse(one.stdout.trim())).toMatchObject({ ok: true, deleted: rest.length, errors: [] });
    note("the same as one DeleteObjects", `1 pin for ${rest.length} versions`);
  });

  it("resync after the token's clock jumped 10 minutes ahead makes its pins pass again", async () => {
    emu!.control.advance(600);
    const bad = await hwtotp(["ceph", "check", "--uid", UID, "--run", "--conf", cluster!.conf]);
    expect(bad.code).toBe(12);
    expect(bad.stderr).toMatch(/refused the pin/);

    const rs = await hwtotp(["ceph", "resync", "--uid", UID, "--run", "--conf", cluster!.conf, "--json"]);
    expect(rs.code, rs.stderr).toBe(0);
    const out = JSON.parse(rs.stdout);
    expect(out.serial).toBe(SERIAL);
    // RGW stores the offset it found: the token is ~600 s ahead (facts: -570 for a token 600 s ahead at 30 s steps).
    expect(out.timeOfs).toBeLessThanOrEqual(-570);
    expect(out.timeOfs).toBeGreaterThanOrEqual(-630);

    const good = await hwtotp(["ceph", "check", "--uid", UID, "--run", "--conf", cluster!.conf]);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout.trim()).toBe("ok");
  });
});
