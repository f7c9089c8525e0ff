// The serial link (serialport, raw, exclusive) over a pty that socat bridges to the emulator's device
// link: the real firmware behind a real tty. Pending when socat is missing (.ci/run installs it).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, ensureHostBuilt, privateEnv, runCli } from "../../harness/cli-harness.ts";
import { type EmuTarget, startEmu } from "../../harness/emulator-harness.ts";
import { startFakeDevice } from "../../harness/fake-device.ts";
import { createLink } from "../../../host/src/link/index.ts";
import { Session } from "../../../host/src/session.ts";

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
    target = await startEmu({ board: "puckjs", autoPress: true }); // delete waits for a press
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

d("unplug mid-request", () => {
  it("fails the pending request as disconnected at once, not after the timeout", async () => {
    const emu = await startEmu({ board: "pico" });
    const dev = await startFakeDevice({ behind: emu.emu });
    const tty = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-pty-")), "tty");
    const socat = spawn("socat", ["PTY,link=" + tty + ",raw,echo=0", "TCP:127.0.0.1:" + dev.port], { detached: true, stdio: "ignore" });
    try {
      const t0 = Date.now();
      while (!fs.existsSync(tty) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      const s = await Session.connect(await createLink(tty), { timeoutMs: 10000 });
      dev.mode = "silent";
      const pending = s.list().catch((e) => e);
      await new Promise((r) => setTimeout(r, 100));
      const t1 = Date.now();
      process.kill(socat.pid!, "SIGKILL");
      const err = await pending;
      expect(err).toMatchObject({ disconnected: true, exitCode: 3, message: expect.stringMatching(/Lost the connection to .*tty/) });
      expect(Date.now() - t1).toBeLessThan(2000);
    } finally {
      if (socat.exitCode === null && socat.signalCode === null) process.kill(socat.pid!, "SIGKILL");
      await dev.close();
      await emu.stop();
    }
  });
});

d("daemon on a serial device that is unplugged and plugged back", () => {
  it("answers E_NODEVICE while the tty is gone and serves codes again once it is back", async () => {
    await ensureHostBuilt();
    const emu = await startEmu({ board: "pico" });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-replug-"));
    const tty = path.join(dir, "tty");
    const plug = () =>
      spawn("socat", ["PTY,link=" + tty + ",raw,echo=0", "TCP:127.0.0.1:" + emu.port], { detached: true, stdio: "ignore" });
    const waitFor = async (cond: () => boolean, ms = 20000) => {
      const t0 = Date.now();
      while (!cond()) {
        if (Date.now() - t0 > ms) throw new Error("timed out waiting");
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const env = privateEnv();
    env.HWTOTP_SOCKET = path.join(dir, "d.sock");
    let socat = plug();
    await waitFor(() => fs.existsSync(tty));
    let log = "";
    const daemon = spawn(process.execPath, [BIN, "daemon", "--device", tty, "--retry", "100"], {
      env,
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
    });
    daemon.stderr!.setEncoding("utf8").on("data", (s: string) => (log += s));
    try {
      await waitFor(() => /connected: firmware/.test(log));
      expect((await runCli(["add", "s", "--secret", "-"], { env, input: B32 })).code).toBe(0);
      process.kill(socat.pid!, "SIGKILL");
      await waitFor(() => /device lost/.test(log));
      const gone = await runCli(["code", "s"], { env });
      expect(gone.code).toBe(3);
      expect(gone.stderr).toMatch(/no device right now/);
      socat = plug();
      await waitFor(() => (log.match(/connected: firmware/g) ?? []).length >= 2);
      const back = await runCli(["code", "s", "--json"], { env });
      expect(back.code, back.stderr).toBe(0);
      const r = JSON.parse(back.stdout);
      expect(r.codes[0].code).toBe(new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) }).generate({ timestamp: r.t * 1000 }));
    } finally {
      for (const p of [daemon, socat]) if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, "SIGTERM");
      await new Promise((r) => setTimeout(r, 100));
      await emu.stop();
    }
  }, 90000);
});
