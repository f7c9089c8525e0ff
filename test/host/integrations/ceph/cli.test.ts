// The Ceph commands as a user runs them (the real hwtotp binary), against the firmware in the emulator and a
// stand-in radosgw-admin that judges pins like RGW. The real RGW is in test/e2e/ceph.test.ts.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmuDevice, startEmuDevice } from "../../../harness/emu-device.ts";
import { totp } from "../../../harness/totp.ts";
import { ensureHostBuilt, privateEnv, runCli } from "../../../harness/cli-harness.ts";
import { fakeAdmin, type FakeAdmin } from "../../../harness/ceph-fake.ts";

let dev: EmuDevice;
let rgw: FakeAdmin;

beforeAll(async () => {
  await ensureHostBuilt();
  dev = await startEmuDevice();
  rgw = fakeAdmin();
});
afterAll(async () => {
  await dev.close();
});

/** A fresh replay state per call unless one is given: these tests must not wait for a step. */
function env(stateDir = mkdtempSync(join(tmpdir(), "hwtotp-mfa-cli-"))) {
  return privateEnv({ HWTOTP_DEVICE: dev.address, HWTOTP_MFA_STATE: stateDir, PATH: rgw.dir + ":" + process.env.PATH });
}

function codeNow(slot: string): string {
  return totp(dev.keyOf(slot), Date.now() / 1000);
}

describe("hwtotp ceph / s3 / code --mfa-header", () => {
  it("ceph enroll --run: slot with serial, radosgw-admin mfa create, verified; no seed on radosgw-admin's argv", async () => {
    const r = await runCli(["ceph", "enroll", "--uid", "carol", "--serial", "hw-cli-1", "--run", "--json"], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      uid: "carol",
      serial: "hw-cli-1",
      verified: true,
      slot: { name: "ceph-carol", serial: "hw-cli-1" },
    });
    const create = rgw.calls().find((c) => c.args.includes("create"))!;
    expect(create.args.join(" ")).not.toMatch(/seed=/);
    expect(create.cephArgs).toMatch(/^--totp-seed=[A-Z2-7]{32}$/);
    expect(r.stdout + r.stderr).not.toContain(create.cephArgs.slice(12));
  });

  it("ceph enroll without --run prints the command and keeps the slot", async () => {
    const r = await runCli(["ceph", "enroll", "--uid", "dave", "--serial", "hw-cli-2", "--seed-type", "hex"], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const key = dev.keyOf("ceph-dave").toString("hex");
    expect(r.stdout.trim()).toBe(
      `CEPH_ARGS=--totp-seed=${key} radosgw-admin mfa create --uid=dave --totp-serial=hw-cli-2 --totp-seed-type=hex --totp-seconds=30 --totp-window=2`,
    );
    expect(r.stderr).toMatch(/hwtotp ceph check --uid dave --name ceph-dave --run/);
  });

  it("code --mfa-header prints SERIAL PIN with the token's current pin", async () => {
    const r = await runCli(["code", "--mfa-header", "ceph-dave"], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const [serial, pin] = r.stdout.trim().split(" ");
    expect(serial).toBe("hw-cli-2");
    expect([codeNow("ceph-dave"), totp(dev.keyOf("ceph-dave"), Date.now() / 1000 - 30)]).toContain(pin);
  });

  it('s3 hands "SERIAL PIN" to a script in $HWTOTP_MFA and passes its exit code through', async () => {
    const r = await runCli(
      ["s3", "--name", "ceph-carol", "--", process.execPath, "-e", "console.log(process.env.HWTOTP_MFA); process.exit(7)"],
      { env: env() },
    );
    expect(r.code).toBe(7);
    expect(r.stdout.trim()).toMatch(/^hw-cli-1 \d{6}$/);
    expect(r.stderr).toMatch(/MFA serial hw-cli-1, step \d+/);
    expect(r.stderr).not.toContain(r.stdout.trim().split(" ")[1]);
  });

  it("s3 refuses an aws command that takes no MFA before spending a pin", async () => {
    const state = mkdtempSync(join(tmpdir(), "hwtotp-mfa-cli-"));
    const r = await runCli(["s3", "--name", "ceph-carol", "--", "aws", "s3api", "list-buckets"], { env: env(state) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Only aws s3api delete-object/);
    expect(existsSync(join(state, "serial-hw-cli-1.json"))).toBe(false);
  });

  it("several slots with serials need --name", async () => {
    const r = await runCli(["s3", "--", "true"], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Several slots carry a serial; pick one with --name \(ceph-carol, ceph-dave\)/);
  });

  it("ceph check --run checks a pin from the token with RGW and records its step", async () => {
    const state = mkdtempSync(join(tmpdir(), "hwtotp-mfa-cli-"));
    const r = await runCli(["ceph", "check", "--uid", "carol", "--name", "ceph-carol", "--run"], { env: env(state) });
    // The enrolment's check used this step already when it ran in the same step: RGW then refuses (exit 12).
    if (r.code === 0) expect(r.stdout.trim()).toBe("ok");
    else expect(r.stderr).toMatch(/RGW refused the pin for hw-cli-1/);
    expect(JSON.parse(readFileSync(join(state, "serial-hw-cli-1.json"), "utf8")).lastStep).toBe(Math.floor(Date.now() / 1000 / 30));
  });
});
