// The firmware's budget on the smallest target: a Puck.js profile in the emulator (2,630 variables, its own
// 13-byte JsVar layout; the goal is to stay inside 2,500) with 32 slots provisioned, after a reset, serving "code"
// for all of them (the peak counts the reply's objects and JSON, alive at once).
// The figures are printed for the report; the assertion is the budget itself, not a timing.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import * as OTPAuth from "otpauth";
import { createEmulator } from "../../firmware/emulator/index.ts";
import { defaultFirmwarePath } from "../../host/src/paths.ts";
import { connect, ok } from "../harness/emu-session.ts";

const T = 1700000000;
const KEY = "3132333435363738393031323334353637383930";
const BUDGET = 2500;

describe.skipIf(!fs.existsSync(defaultFirmwarePath()))("firmware heap budget (Puck.js profile)", () => {
  it("boots with 32 slots and codes them all inside 2,500 variables", async () => {
    const emu = createEmulator({ board: "puckjs", clock: T, frozenClock: true });
    await emu.start();
    try {
      let c = connect(emu);
      const fresh = emu.control.heap();
      for (let i = 0; i < 32; i++) {
        await ok(c, "add", {
          name: "a-rather-long-slot-name-" + String(i).padStart(2, "0"),
          key: KEY,
          alg: i % 2 ? "SHA256" : "SHA1",
          digits: 8,
          serial: "SERIAL-" + i,
        });
      }
      c.close();
      emu.control.reset();
      c = connect(emu);
      const booted = emu.control.heap();
      const all = await ok(c, "code");
      const after = emu.control.heap();
      const hello = await ok(c, "hello");
      c.close();
      console.log(
        `[budget] puckjs heap in variables: fresh boot ${fresh.usage}, after reset with 32 slots ${booted.usage}, after code-all ${after.usage}, peak during code-all ${after.peak} (of ${booted.total}; budget ${BUDGET}; the emulator is calibrated to within 15 % of the real 2,500-variable Linux build: test/firmware/emulator/calibration.test.ts)`,
      );
      expect(hello.slots).toEqual({ used: 32, max: 32 });
      expect(all.codes).toHaveLength(32);
      const want0 = OTPAuth.TOTP.generate({
        secret: OTPAuth.Secret.fromHex(KEY),
        algorithm: "SHA1",
        digits: 8,
        period: 30,
        timestamp: all.t * 1000,
      });
      expect(all.codes[0].code).toBe(want0);
      expect(booted.usage).toBeLessThan(BUDGET);
      expect(after.usage).toBeLessThan(BUDGET);
      expect(hello.heap.usage).toBeLessThan(BUDGET);
      expect(after.peak).toBeLessThan(BUDGET);
    } finally {
      await emu.stop();
    }
  });
});
