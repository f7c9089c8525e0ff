// The clock commands as a user runs them (host/bin/hwtotp.js subprocess) against an in-process emulator:
// `time --json` fields, `time sync` refusing a jump (exit 7) and setting within the bound, and
// `resync-codes` giving two consecutive codes plus the radosgw-admin line for a slot with a serial.
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LIMITS } from "../../../protocol/index.ts";
import { createEmulator, type Emulator } from "../../../firmware/emulator/index.ts";
import { ensureHostBuilt, privateEnv, runCli } from "../../harness/cli-harness.ts";

const B32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
let emu: Emulator;
let device = "";
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await ensureHostBuilt();
  // 150 s behind: beyond the 120 s bound
  emu = createEmulator({ board: "puckjs", clock: Date.now() / 1000 - 150 });
  await emu.start();
  const { port } = await emu.listen();
  device = "tcp://127.0.0.1:" + port;
  env = privateEnv();
});

afterAll(async () => {
  await emu?.stop();
});

describe("hwtotp time", () => {
  it("--json reports the offset with its uncertainty and round trip, drift and last sync", async () => {
    const r = await runCli(["time", "--json", "--device", device], { env });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ set: true, exchanges: 8, samples: 0, lastSync: null, sinceSync: null, ppmErr: null });
    expect(j.offset).toBeGreaterThan(-152);
    expect(j.offset).toBeLessThan(-148);
    // a TCP round trip costs ~0.5 ms: timed on the monotonic clock, never 0; puck.js ticks at 32768 Hz
    expect(j.rtt).toBeGreaterThan(0);
    expect(j.resolution).toBeCloseTo(1 / 32768 + 1e-6, 6);
    expect(j.uncertainty).toBeCloseTo(j.rtt / 2 + j.resolution, 5);
    expect(j.hostClock).toHaveProperty("synchronized");
  });

  it("sync refuses a jump beyond --max-jump with exit 7, the device refuses beyond its own bound, and a sync within it works", async () => {
    const refused = await runCli(["time", "sync", "--device", device], { env });
    expect(refused.code).toBe(7);
    expect(refused.stderr).toMatch(/150\.\d s behind: a correction of 150\.\d s exceeds the bound of 120 s/);
    const device120 = await runCli(["time", "sync", "--max-jump", "1000", "--json", "--device", device], { env });
    expect(device120.code).toBe(7);
    expect(JSON.parse(device120.stdout).error.code).toBe("E_JUMP");
    emu.control.setClock(emu.control.now() + 148);
    const ok = await runCli(["time", "sync", "--json", "--device", device], { env });
    expect(ok.code).toBe(0);
    const j = JSON.parse(ok.stdout);
    expect(j.action).toBe("set");
    expect(j.after.offset).toBeLessThanOrEqual(j.after.uncertainty);
    expect(j.after.offset).toBeGreaterThan(-2);
    expect(j.after.lastSync).not.toBeNull();
  });
});

describe("hwtotp time sync after an STM32 power cut", () => {
  it("with slots on the device: says the clock was lost and asks for --force and a press (exit 7); with them it sets it", async () => {
    const pico = createEmulator({ board: "pico", clock: Date.now() / 1000 });
    await pico.start();
    try {
      const { port } = await pico.listen();
      const dev = "tcp://127.0.0.1:" + port;
      expect((await runCli(["add", "ks", "--secret", "-", "--device", dev], { env, input: B32 + "\n" })).code).toBe(0);
      pico.control.powerCycle();
      const refused = await runCli(["time", "sync", "--device", dev], { env });
      expect(refused.code).toBe(7);
      expect(refused.stderr).toMatch(/lost its clock.*hwtotp time sync --force.*press the button/);
      expect((await runCli(["code", "ks", "--device", dev], { env })).code).toBe(7);
      // hold the button (a jump needs a long press) until the command ends: a press before the device waits
      // is ignored
      const forced = runCli(["time", "sync", "--force", "--json", "--device", dev], { env });
      const presser = setInterval(() => pico.control.pressButton(LIMITS.LONG_PRESS_MS + 500), 200);
      const ok = await forced.finally(() => clearInterval(presser));
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stderr).toMatch(/clock is unset.*press its button/);
      expect(JSON.parse(ok.stdout).after.set).toBe(true);
      expect((await runCli(["code", "ks", "--device", dev], { env })).code).toBe(0);
    } finally {
      await pico.stop();
    }
  });
});

describe("hwtotp resync-codes", () => {
  it("prints two consecutive codes and the radosgw-admin command for a slot with a serial", async () => {
    const add = await runCli(["add", "rgw", "--secret", "-", "--serial", "tok-9", "--device", device], { env, input: B32 + "\n" });
    expect(add.code).toBe(0);
    // put the device 1.5 s before a step boundary so the wait is short
    const now = emu.control.now();
    emu.control.setClock(Math.floor(now / 30) * 30 + 28.5);
    const r = await runCli(["resync-codes", "--name", "rgw", "--uid", "alice", "--json", "--device", device], { env });
    expect(r.code).toBe(0);
    const { pairs } = JSON.parse(r.stdout);
    expect(pairs).toHaveLength(1);
    const p = pairs[0];
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) });
    expect(p.codes).toEqual([totp.generate({ timestamp: p.step * 30000 }), totp.generate({ timestamp: (p.step + 1) * 30000 })]);
    // the pins in CEPH_ARGS, as `hwtotp ceph resync` prints them: never on radosgw-admin's argv
    expect(p.command).toBe(
      ` CEPH_ARGS='--totp-pin=${p.codes[0]} --totp-pin=${p.codes[1]}' radosgw-admin mfa resync --uid=alice --totp-serial=tok-9`,
    );
    expect(p.command.split("radosgw-admin")[1]).not.toContain(p.codes[0]);
    expect(r.stderr).toMatch(/Waiting \d+\.\d s for the next 30 s step/);
  });
});
