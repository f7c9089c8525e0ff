// The PIN section of `npm run bench` (alone: node bench/pin.mjs): unlock time per emulated board profile, host
// wall time of one unlock request with 4 slots sealed (the emulator runs the firmware's JS and the board's crypto
// at this machine's speed, so the figures compare the stretch each board gets: native PBKDF2 10,000 rounds where
// the board has it, else a chain of 500 HMACs on its native hash, else 16 on the JS SHA-1), and the same with the
// wrong PIN. Prints, never asserts. The real interpreter's unlock is in bench/real.mjs.
import os from "node:os";
import { pathToFileURL } from "node:url";
import { tsImport } from "tsx/esm/api";

const PIN = "correct horse battery 42";
const ROUNDS = Number(process.env.BENCH_PIN_ROUNDS || 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runPinBench() {
  const { BOARDS, createEmulator } = await tsImport("../firmware/emulator/index.ts", import.meta.url);
  const { connect, ok } = await tsImport("../test/harness/emu-session.ts", import.meta.url);
  const out = [];
  for (const board of Object.values(BOARDS)) {
    const emu = createEmulator({ board: board.name, clock: 1700000000, frozenClock: true, autoPress: true });
    await emu.start();
    try {
      const c = connect(emu, 60000);
      for (let i = 0; i < 4; i++) await ok(c, "add", { name: "s" + i, key: "3132333435363738393031323334353637383930" });
      await ok(c, "pin", { next: PIN });
      const right = [];
      const wrong = [];
      for (let r = 0; r < ROUNDS; r++) {
        let t0 = performance.now();
        await ok(c, "unlock", { pin: PIN });
        right.push(performance.now() - t0);
        if (r < 3) {
          t0 = performance.now();
          await c.request("unlock", { pin: "not the pin" });
          wrong.push(performance.now() - t0);
        }
      }
      out.push({ board: board.name, pbkdf2: board.pbkdf2, hashes: board.hashes, right: median(right), wrong: median(wrong) });
      c.close();
    } finally {
      await emu.stop();
    }
  }
  return out;
}

export function printPinBench(rows, log = console.log) {
  log("   board        stretch                      unlock (ms)   wrong PIN (ms)");
  for (const r of rows) {
    const stretch = r.pbkdf2
      ? "PBKDF2-SHA256 10,000"
      : r.hashes
        ? "HMAC chain 500 (" + (r.hashes.includes("SHA256") ? "SHA256" : "SHA1") + ")"
        : "HMAC chain 16 (JS SHA1)";
    log("   " + r.board.padEnd(12) + " " + stretch.padEnd(28) + r.right.toFixed(1).padStart(8) + "      " + r.wrong.toFixed(1).padStart(8));
  }
  log("   (emulator: host wall time per request, in-process link; a board's own time is far longer: see the real interpreter in 5)");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log("hwtotp PIN bench: " + os.cpus().length + " CPU(s), " + ROUNDS + " rounds, medians");
  runPinBench()
    .then((r) => printPinBench(r))
    .catch((e) => {
      console.error("PIN bench failed: " + (e.stack || e));
      process.exitCode = 1;
    });
}
