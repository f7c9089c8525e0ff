// The forward bound holds whatever the host sends (issue 11 item 6), firmware in the emulator: over 30 simulated
// days of random settime / ppm / bias (some forced, none pressed), the code clock never gets further ahead of
// the RTC since the last confirmed set than JUMP_MAX plus PPM_MAX of the RTC seconds elapsed.
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { ERR, LIMITS } from "../../../protocol/index.ts";
import { createEmulator, type Emulator } from "../../../firmware/emulator/index.ts";
import { defaultFirmwarePath } from "../../../host/src/paths.ts";
import { connect, ok } from "../../harness/emu-session.ts";
import { seeded } from "../../harness/random.ts";

const T0 = 1700000000;
const DAYS = 30;
let emu: Emulator | null = null;
afterEach(async () => {
  if (emu) await emu.stop();
  emu = null;
});

describe.skipIf(!fs.existsSync(defaultFirmwarePath()))("the forward bound (emulator, 30 simulated days)", () => {
  for (const [board, seed] of [
    ["pico", 1],
    ["puckjs", 2],
    ["original", 3],
  ] as const) {
    it(`${board}, seed ${seed}: random settime/ppm/bias sequences never pass JUMP_MAX + ${LIMITS.PPM_MAX} ppm of the RTC time`, async () => {
      emu = createEmulator({ board, clock: T0, frozenClock: true });
      await emu.start();
      const c = connect(emu, 20000);
      const rnd = seeded(seed);
      // the first set is confirmed (a fresh token): the anchor
      await ok(c, "settime", { t: T0 });
      const anchor = T0;
      let rtc = 0; // RTC (oscillator) seconds since the anchor
      let worst = -Infinity;
      let ops = 0;
      let refused = 0;
      const check = async (): Promise<number> => {
        const t = (await ok(c, "time")).t as number;
        const over = t - anchor - (LIMITS.JUMP_MAX + rtc * (1 + LIMITS.PPM_MAX / 1e6));
        worst = Math.max(worst, over);
        expect(over, "code clock " + t + " after " + rtc + " s of RTC").toBeLessThanOrEqual(1e-6);
        return t;
      };
      while (rtc < DAYS * 86400) {
        const step = rnd() < 0.2 ? rnd() * 60 : rnd() * 4 * 3600;
        emu.control.advance(step);
        rtc += step;
        const cur = await check();
        const a: Record<string, unknown> = {};
        const kind = rnd();
        // mostly small corrections ahead (the hostile direction), some large, some back
        a.t = cur + (kind < 0.6 ? rnd() * 130 : kind < 0.8 ? rnd() * 86400 : -rnd() * 200);
        if (rnd() < 0.5) a.ppm = Math.round((rnd() < 0.5 ? -1 : 1) * LIMITS.PPM_MAX * rnd());
        if (rnd() < 0.3) a.ppm = -LIMITS.PPM_MAX;
        if (rnd() < 0.3) a.bias = Math.round(LIMITS.BIAS_MAX * rnd() * 10) / 10;
        if (rnd() < 0.2) a.force = true;
        if ((a.t as number) < LIMITS.CLOCK_MIN) continue;
        const p = c.request("settime", a);
        if (a.force) {
          // a forced jump waits for a press nobody gives
          await new Promise((r) => setTimeout(r, 5));
          emu.control.advance(16);
          rtc += 16;
        }
        const r = await p;
        ops++;
        if (!r.ok) {
          refused++;
          expect([ERR.JUMP, ERR.TOUCH]).toContain(r.e);
        }
        await check();
      }
      console.log(
        `[bound] ${board} seed ${seed}: ${ops} settime over ${DAYS} days (${refused} refused), worst margin ${(-worst).toFixed(3)} s inside the bound`,
      );
      expect(ops).toBeGreaterThan(200);
    }, 120000);
  }
});
