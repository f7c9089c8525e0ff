import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RadosgwAdmin, parseMfaList, printableCommand } from "../../../../host/src/integrations/ceph/radosgw-admin.ts";
import { enrollCeph } from "../../../../host/src/integrations/ceph/enroll.ts";
import { planS3 } from "../../../../host/src/integrations/ceph/s3-mfa.ts";
import { parseBase32 } from "../../../../host/src/secret.ts";
import { startEmuSlots, stopEmuSlots } from "../../../harness/emu-slots.ts";
import { totp } from "../../../harness/totp.ts";
import { fakeAdmin } from "../../../harness/ceph-fake.ts";

describe("radosgw-admin wrapper", () => {
  it("passes the seed and pins in CEPH_ARGS, never on argv, after the caller's own CEPH_ARGS", async () => {
    const f = fakeAdmin();
    const adm = f.admin({ CEPH_ARGS: "--id admin", FAKE_CHECK: "ok" });
    await adm.create({
      uid: "alice",
      serial: "hw-1",
      seed: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
      seedType: "base32",
      seconds: 30,
      window: 2,
    });
    expect(await adm.check("alice", "hw-1", "123456")).toBe(true);
    await adm.resync("alice", "hw-1", "111111", "222222");
    const [c, k, r] = f.calls();
    expect(c.args).toEqual([
      "-c",
      "/etc/ceph/test.conf",
      "mfa",
      "create",
      "--uid=alice",
      "--totp-serial=hw-1",
      "--totp-seed-type=base32",
      "--totp-seconds=30",
      "--totp-window=2",
    ]);
    expect(c.cephArgs).toBe("--id admin --totp-seed=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
    expect(k.args.join(" ")).not.toContain("123456");
    expect(k.cephArgs).toBe("--id admin --totp-pin=123456");
    expect(r.cephArgs).toBe("--id admin --totp-pin=111111 --totp-pin=222222");
    for (const call of f.calls()) expect(call.args.join(" ")).not.toMatch(/seed=|pin=/);
  });

  it("maps RGW's answers: refused pin → false, unknown serial → error, no tokens → []", async () => {
    const f = fakeAdmin();
    expect(await f.admin({ FAKE_CHECK: "refuse" }).check("alice", "hw-1", "000000")).toBe(false);
    await expect(f.admin({ FAKE_CHECK: "noent" }).check("alice", "hw-1", "000000")).rejects.toMatchObject({
      errno: 2,
      code: "E_MFA_NOENT",
    });
    expect(await f.admin({ FAKE_LIST: "none" }).list("alice")).toEqual([]);
  });

  it("lists tokens without their seeds", async () => {
    const f = fakeAdmin();
    const list = await f.admin().list("alice");
    expect(list).toEqual([{ serial: "taken", seedType: "base32", timeOfs: -570, stepSize: 30, window: 2 }]);
    expect(JSON.stringify(list)).not.toContain("SECRETSEED");
    expect(await f.admin().get("alice", "taken")).toMatchObject({ serial: "taken", timeOfs: -570 });
    expect(
      parseMfaList('{"entry":{"type":2,"id":"S","seed":"x","seed_type":"hex","time_ofs":0,"step_size":30,"window":2}}')[0].serial,
    ).toBe("S");
  });

  it("refuses serials with spaces (S3 sends SERIAL PIN) and says radosgw-admin is missing", async () => {
    await expect(new RadosgwAdmin().check("alice", "two words", "1")).rejects.toThrow(/no spaces/);
    await expect(new RadosgwAdmin({ bin: "/nonexistent/radosgw-admin" }).list("alice")).rejects.toThrow(/not on PATH/);
  });

  it("prints commands with the secret in a CEPH_ARGS prefix, shell-quoted", () => {
    const adm = new RadosgwAdmin({ conf: "/etc/ceph/my cluster.conf" });
    const s = printableCommand(adm, ["mfa", "check", "--uid=alice", "--totp-serial=hw-1"], ["--totp-pin=123456"]);
    expect(s).toBe(" CEPH_ARGS=--totp-pin=123456 radosgw-admin -c '/etc/ceph/my cluster.conf' mfa check --uid=alice --totp-serial=hw-1");
  });
});

// The token is the firmware in the emulator, through the host's own Session (test/harness/emu-slots.ts).
describe("ceph enrolment", () => {
  afterEach(() => stopEmuSlots());

  it("--run: slot with serial, mfa create with the same seed, verified by mfa check with the token's pin", async () => {
    const f = fakeAdmin();
    const dev = await startEmuSlots();
    const stateDir = mkdtempSync(join(tmpdir(), "hwtotp-mfa-"));
    const r = await enrollCeph({ uid: "alice", serial: "hw-7", run: true, admin: f.admin(), stateDir }, dev.device);
    expect(r).toMatchObject({ uid: "alice", serial: "hw-7", verified: true, slot: { name: "ceph-alice", serial: "hw-7" } });
    const calls = f.calls();
    expect(calls.map((c) => c.args[c.args.indexOf("mfa") + 1])).toEqual(["list", "create", "check"]);
    const seed = /--totp-seed=(\S+)/.exec(calls[1].cephArgs)![1];
    const key = Buffer.from(dev.keyOf("ceph-alice")!, "hex");
    expect(Buffer.from(parseBase32(seed)).equals(key)).toBe(true);
    expect(calls[2].cephArgs).toBe("--totp-pin=" + totp(key, Date.now() / 1000));
  });

  it("rolls back the slot and the RGW token when RGW refuses the first pin", async () => {
    const f = fakeAdmin();
    const dev = await startEmuSlots();
    const stateDir = mkdtempSync(join(tmpdir(), "hwtotp-mfa-"));
    await expect(
      enrollCeph({ uid: "alice", serial: "hw-8", run: true, admin: f.admin({ FAKE_CHECK: "refuse" }), stateDir }, dev.device),
    ).rejects.toThrow(/refused the token's first pin/);
    expect(await dev.slotNames()).toHaveLength(0);
    expect(f.calls().map((c) => c.args[c.args.indexOf("mfa") + 1])).toEqual(["list", "create", "check", "remove"]);
  });

  it("refuses a serial the user already has, before touching the token", async () => {
    const f = fakeAdmin();
    const dev = await startEmuSlots();
    await expect(enrollCeph({ uid: "alice", serial: "taken", run: true, admin: f.admin() }, dev.device)).rejects.toThrow(
      /already has a token with serial taken/,
    );
    expect(await dev.slotNames()).toHaveLength(0);
  });

  it("without --run prints the exact command, the hex seed in CEPH_ARGS", async () => {
    const dev = await startEmuSlots();
    const r = await enrollCeph({ uid: "bob", serial: "hw-9", seedType: "hex", run: false, admin: new RadosgwAdmin() }, dev.device);
    const key = dev.keyOf("ceph-bob")!;
    expect(r.command).toBe(
      " CEPH_ARGS=--totp-seed=" +
        key +
        " radosgw-admin mfa create --uid=bob --totp-serial=hw-9 --totp-seed-type=hex --totp-seconds=30 --totp-window=2",
    );
    expect(r.verified).toBe(false);
  });
});

describe("S3 MFA hand-over", () => {
  it("aws s3api: MFA in a private --cli-input-json file, removed afterwards; the pin is not on argv", () => {
    const p = planS3(
      ["aws", "--endpoint-url", "http://127.0.0.1:1", "s3api", "delete-object", "--bucket", "b", "--key", "k", "--version-id", "v"],
      "hw-1 123456",
    );
    expect(p.how).toBe("aws-json");
    const file = p.args[p.args.length - 1].replace("file://", "");
    expect(p.args[p.args.length - 2]).toBe("--cli-input-json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ MFA: "hw-1 123456" });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(p.args.join(" ")).not.toContain("123456");
    p.cleanup();
    expect(existsSync(file)).toBe(false);
  });

  it('aws with --mfa-arg: --mfa "SERIAL PIN" (its own --cli-input-json: test/host/integrations/ceph/s3-input.test.ts)', () => {
    expect(planS3(["aws", "s3api", "put-bucket-versioning", "--bucket", "b"], "hw-1 123456", { mfaArg: true }).args.slice(-2)).toEqual([
      "--mfa",
      "hw-1 123456",
    ]);
  });

  it("refuses aws commands that take no MFA, or that already carry --mfa", () => {
    expect(() => planS3(["aws", "s3api", "list-buckets"], "h 1")).toThrow(/Only aws s3api/);
    expect(() => planS3(["aws", "s3", "rm", "s3://b/k"], "h 1")).toThrow(/Only aws s3api/);
    expect(() => planS3(["aws", "s3api", "delete-object", "--mfa", "x 1"], "h 1")).toThrow(/Leave --mfa out/);
    expect(() => planS3([], "h 1")).toThrow(/Give the S3 command/);
  });

  it("any other client gets $HWTOTP_MFA (or the named variable), argv untouched", () => {
    const p = planS3(["/usr/bin/python3", "delete.py", "--bucket", "b"], "hw-1 123456");
    expect(p).toMatchObject({
      cmd: "/usr/bin/python3",
      args: ["delete.py", "--bucket", "b"],
      env: { HWTOTP_MFA: "hw-1 123456" },
      how: "env",
    });
    expect(planS3(["s3-script"], "hw-1 1", { envVar: "MFA" }).env).toEqual({ MFA: "hw-1 1" });
  });
});
