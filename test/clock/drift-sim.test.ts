// Issue 6 §5 on the simulated device clock (sim-device.ts): ±300 ppm over 30 days, auto-sync at most
// every 3 days, every hourly code inside Keystone's window. The same scenario runs on the emulator in
// drift-emulator.test.ts.
import { describe, expect, it } from "vitest";
import * as OTPAuth from "otpauth";
import { SimDevice } from "./sim-device.ts";
import { SCENARIO_SECRET, describeResult, runDriftScenario } from "./scenario.ts";

const T0 = 1_790_000_000;

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("drift over 30 days (simulated clock)", () => {
  for (const ppm of [300, -300]) {
    it(`keeps every hourly code inside Keystone's window at ${ppm > 0 ? "+" : ""}${ppm} ppm`, async () => {
      const dev = new SimDevice(T0, ppm, T0 + 1.5);
      const rnd = seeded(ppm + 1000);
      dev.latency = () => 0.001 + 0.009 * rnd(); // USB-serial-like: 1–10 ms each way
      const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(SCENARIO_SECRET) });
      const r = await runDriftScenario(
        {
          port: dev,
          trueNow: () => dev.trueTime,
          advance: (s) => dev.advance(s),
          code: async () => ({ code: totp.generate({ timestamp: dev.now() * 1000 }), at: dev.trueTime }),
          clockError: async () => dev.now() - dev.trueTime,
        },
        { days: 30, interval: 3 * 86400 },
      );
      console.log(describeResult(`sim ${ppm} ppm`, r));
      expect(r.rejected).toEqual([]);
      expect(r.checks).toBe(30 * 24);
      expect(r.worstAhead).toBeLessThanOrEqual(r.maxUncertainty);
      expect(r.worstBehind).toBeGreaterThan(-2);
      expect(Math.abs(r.finalPpm - ppm)).toBeLessThan(0.1);
    });
  }
});
