// `npx tsx scripts/fuzz.ts [FRAMES] [BOARD] [SEED]`: the device-link fuzz of test/firmware/emulator/fuzz.test.ts at
// length (default 100,000 frames on a pico with a PIN set), printing frames per second. Exits 1 on a fault.
import * as OTPAuth from "otpauth";
import { createEmulator } from "../firmware/emulator/index.ts";
import { connect, ok } from "../test/harness/emu-session.ts";
import { runFuzz } from "../test/harness/fuzz.ts";

const frames = Number(process.argv[2] || 100000);
const board = process.argv[3] || "pico";
const seed = Number(process.argv[4] || 1);
const KEY = "3132333435363738393031323334353637383930";

const log: string[] = [];
const emu = createEmulator({ board, clock: 1700000000, frozenClock: true, autoPress: true, log: (l) => log.push(l) });
await emu.start();
try {
  const c = connect(emu, 20000);
  await ok(c, "add", { name: "a", key: KEY });
  if (emu.board.button) await ok(c, "pin", { next: "2468" });
  const before = JSON.stringify([await ok(c, "list"), (await ok(c, "hello")).pin]);
  const r = await runFuzz(emu, frames, seed);
  const after = JSON.stringify([await ok(c, "list"), (await ok(c, "hello")).pin]);
  const d = await ok(c, "code", { name: "a" });
  const right = d.codes[0].code === OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromHex(KEY), timestamp: d.t * 1000 });
  const faults = log.filter((l) => /Uncaught|Out of Memory|Error/i.test(l));
  console.log(
    `fuzz ${board} seed ${seed}: ${r.frames} frames, one reply each, in ${(r.ms / 1000).toFixed(1)} s = ${Math.round(r.frames / (r.ms / 1000))} frames/s; state ${before === after ? "intact" : "CHANGED"}, code ${right ? "right" : "WRONG"}, ${faults.length} faults`,
  );
  if (before !== after || !right || faults.length) process.exitCode = 1;
} finally {
  await emu.stop();
}
