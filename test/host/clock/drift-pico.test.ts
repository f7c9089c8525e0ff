// Issue 6 §5 on a second device and latency draw (drift-emulator.test.ts has the first, and the clock
// events): ±300 ppm over 30 days, auto-sync at most every 3 days, every hourly code inside Keystone's
// window, on the firmware's own clock in the emulator (a Pico's, on virtual time: emu-harness.ts).
import { afterEach, describe, expect, it } from "vitest";
import * as OTPAuth from "otpauth";
import { startEmuClock, type EmuClock } from "../../harness/clock-emulator.ts";
import { SCENARIO_SECRET, describeResult, runDriftScenario } from "../../harness/clock-scenario.ts";
import { seeded } from "../../harness/random.ts";

const T0 = 1_790_000_000;
const KEY_HEX = Buffer.from(OTPAuth.Secret.fromBase32(SCENARIO_SECRET).bytes).toString("hex");

let open: EmuClock[] = [];
afterEach(async () => {
  for (const h of open) await h.stop().catch(() => {});
  open = [];
});

describe("drift over 30 days (firmware clock in the emulator, Pico, second latency draw)", () => {
  for (const ppm of [300, -300]) {
    it(`keeps every hourly code inside Keystone's window at ${ppm > 0 ? "+" : ""}${ppm} ppm`, async () => {
      const dev = await startEmuClock({ board: "pico", trueStart: T0, deviceStart: T0 + 1.5, drift: ppm });
      open.push(dev);
      await dev.session.add({ name: "ks", key: KEY_HEX });
      const rnd = seeded(ppm + 1000);
      dev.latency = () => 0.001 + 0.009 * rnd(); // USB-serial-like: 1–10 ms each way
      const r = await runDriftScenario(
        {
          port: dev.port,
          trueNow: dev.trueNow,
          advance: (s) => dev.advance(s),
          code: async () => {
            const d = await dev.port.code("ks");
            return { code: d.codes[0].code as string, at: dev.lastStamp() };
          },
          clockError: async () => (await dev.state()).t - dev.trueNow(),
        },
        { days: 30, interval: 3 * 86400 },
      );
      console.log(describeResult(`pico ${ppm} ppm`, r));
      expect(r.rejected).toEqual([]);
      expect(r.checks).toBe(30 * 24);
      expect(r.worstAhead).toBeLessThanOrEqual(r.maxUncertainty);
      expect(r.worstBehind).toBeGreaterThan(-2);
      expect(Math.abs(r.finalPpm - ppm)).toBeLessThan(0.1);
    }, 120_000);
  }
});
