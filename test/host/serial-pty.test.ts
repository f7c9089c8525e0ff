// The serial link (serialport, raw, exclusive) over a pty that socat bridges to the emulator's device
// link: the real firmware behind a real tty. Pending when socat is missing (.ci/run installs it).
import { execFileSync } from "node:child_process";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureHostBuilt, privateEnv, runCli } from "./cli-harness.ts";
import { type EmuTarget, startEmu } from "./emulator-harness.ts";

function hasSocat(): boolean {
  try {
    execFileSync("socat", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const d = hasSocat() ? describe : describe.skip;
let target: EmuTarget;
let tty: string;

d("serial link over a pty", () => {
  beforeAll(async () => {
    await ensureHostBuilt();
    target = await startEmu({ board: "puckjs" });
    tty = (await target.emu.pty())!.path;
  });
  afterAll(async () => {
    await target?.stop();
  });

  it("adds, lists, reads a code equal to otpauth's, and deletes through the pty", async () => {
    const env = privateEnv({ HWTOTP_DEVICE: tty });
    const add = await runCli(["add", "pty", "--secret", "-"], { env, input: B32 });
    expect(add.code, add.stderr).toBe(0);
    const l = await runCli(["list", "--json"], { env });
    expect(JSON.parse(l.stdout).slots.map((s: { name: string }) => s.name)).toEqual(["pty"]);
    const c = await runCli(["code", "pty", "--json"], { env });
    expect(c.code, c.stderr).toBe(0);
    const r = JSON.parse(c.stdout);
    expect(r.codes[0].code).toBe(new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) }).generate({ timestamp: r.t * 1000 }));
    const del = await runCli(["delete", "pty"], { env });
    expect(del.code, del.stderr).toBe(0);
    expect((await target.inspect()).slots).toEqual([]);
  });

  it("names a missing serial device with exit 3", async () => {
    const r = await runCli(["list"], { env: privateEnv({ HWTOTP_DEVICE: tty + ".missing" }) });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Cannot open .*\.missing: no such device\./);
  });
});
