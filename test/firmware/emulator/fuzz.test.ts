// The device link under a seeded fuzz (issue 11 item 7), firmware in the emulator: 10,000 frames (set
// HWTOTP_FUZZ_FRAMES for more; scripts/fuzz.ts runs 100,000), each answered by exactly one reply, no uncaught
// exception, and afterwards the slots, the PIN state and the codes (against otpauth) are as before.
import fs from "node:fs";
import * as OTPAuth from "otpauth";
import { afterEach, describe, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../../../firmware/emulator/index.ts";
import { defaultFirmwarePath } from "../../../host/src/paths.ts";
import { connect, ok } from "../../harness/emu-session.ts";
import { runFuzz } from "../../harness/fuzz.ts";

const FRAMES = Number(process.env.HWTOTP_FUZZ_FRAMES || 10000);
const KEY = "3132333435363738393031323334353637383930";
const KEY2 = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcdef01";
let emu: Emulator | null = null;
afterEach(async () => {
  if (emu) await emu.stop();
  emu = null;
});

describe.skipIf(!fs.existsSync(defaultFirmwarePath()))("fuzzed device link (emulator)", () => {
  for (const [board, pin, seed] of [["pico", true, 11]] as const) {
    it(`${board}${pin ? " with a PIN" : ""}: ${FRAMES} fuzzed frames, one reply each, state and codes intact`, async () => {
      const log: string[] = [];
      emu = createEmulator({ board, clock: 1700000000, frozenClock: true, log: (l) => log.push(l) });
      await emu.start();
      const c = connect(emu, 20000);
      await ok(c, "add", { name: "a", key: KEY });
      await ok(c, "add", { name: "b", key: KEY2, alg: "SHA256", digits: 8, touch: true });
      if (pin) {
        emu.control.pressButton(100); // too early: ignored
        const p = c.request("pin", { next: "2468" });
        await new Promise((r) => setTimeout(r, 20));
        emu.control.pressButton(100);
        expect((await p).ok).toBe(true);
      }
      const before = { list: await ok(c, "list"), pin: (await ok(c, "hello")).pin };
      const r = await runFuzz(emu, FRAMES, seed);
      console.log(
        `[fuzz] ${board}: ${r.frames} frames in ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.frames / (r.ms / 1000))} frames/s), ${r.validOk} valid requests answered ok`,
      );
      expect(r.replies).toBe(FRAMES);
      expect(r.validOk).toBeGreaterThan(FRAMES / 5);
      expect(log.filter((l) => /Uncaught|Out of Memory|Error/i.test(l))).toEqual([]);
      expect(await ok(c, "list")).toEqual(before.list);
      expect((await ok(c, "hello")).pin).toEqual(before.pin);
      const d = await ok(c, "code", { name: "a" });
      expect(d.codes[0].code).toBe(OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromHex(KEY), timestamp: d.t * 1000 }));
    }, 300000);
  }
});
