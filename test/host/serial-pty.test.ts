// The serial link (serialport, raw, exclusive) over a pty that socat bridges to a stand-in device on TCP.
// Pending when socat is missing (.ci/run installs it).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as OTPAuth from "otpauth";
import { ensureHostBuilt, privateEnv, runCli } from "./cli-harness.ts";
import { type FakeDevice, startFakeDevice } from "./fake-device.ts";

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
let dev: FakeDevice;
let socat: ChildProcess;
let tty: string;

d("serial link over a pty", () => {
  beforeAll(async () => {
    await ensureHostBuilt();
    dev = await startFakeDevice();
    tty = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-pty-")), "tty");
    socat = spawn("socat", ["PTY,link=" + tty + ",raw,echo=0", "TCP:127.0.0.1:" + dev.port + ",forever,interval=0.1"], {
      detached: true,
      stdio: "ignore",
    });
    const t0 = Date.now();
    while (!fs.existsSync(tty) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
  });
  afterAll(async () => {
    if (socat?.pid && socat.exitCode === null) process.kill(socat.pid, "SIGTERM");
    await dev?.close();
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
    expect(del.code).toBe(0);
    expect(dev.slots.size).toBe(0);
  });

  it("names a missing serial device with exit 3", async () => {
    const r = await runCli(["list"], { env: privateEnv({ HWTOTP_DEVICE: tty + ".missing" }) });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Cannot open .*\.missing: no such device\./);
  });
});
