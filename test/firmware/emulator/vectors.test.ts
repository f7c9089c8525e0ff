// The vector suite of the firmware issue against firmware/dist/firmware.js running in the emulator, on every
// board profile: slots added over the protocol (32 per batch, wiped between batches), the virtual clock set to
// each case's time, codes asked for by name.
import fs from "node:fs";
import { afterAll, beforeAll, describe, it, expect } from "vitest";
import { runVectorSuite, type VectorCase } from "../../harness/vector-suite.ts";
import { BOARDS, createEmulator, type Emulator } from "../../../firmware/emulator/index.ts";
import { defaultFirmwarePath } from "../../../host/src/paths.ts";
import { connect, ok, type EmuClient } from "../../harness/emu-session.ts";

const BATCH = 32;
const haveFirmware = fs.existsSync(defaultFirmwarePath());

for (const board of Object.values(BOARDS)) {
  const algs = board.hashes ? board.hashes.slice() : ["SHA1"];
  let emu: Emulator;
  let c: EmuClient;
  let codeMs = 0;
  let codes = 0;
  let storageFull = false;
  describe.skipIf(!haveFirmware)("emulated " + board.name, () => {
    beforeAll(async () => {
      emu = createEmulator({ board: board.name, clock: 1700000000, frozenClock: true, autoPress: true });
      await emu.start();
      c = connect(emu);
      const hello = await ok(c, "hello");
      expect(hello.board).toBe(board.envBoard);
      expect(hello.algs).toEqual(algs);
    });
    afterAll(async () => {
      c.close();
      await emu.stop();
      if (codes)
        console.log(
          "[bench] " +
            board.name +
            ": " +
            (codeMs / codes).toFixed(3) +
            " ms per code (emulator, in-process), " +
            codes +
            " codes" +
            (storageFull ? "; Storage held fewer than " + BATCH + " slots" : ""),
        );
    });
    it("reports the board's hashes in hello", () => {
      expect(algs.length).toBeGreaterThan(0);
    });
    runVectorSuite({
      name: "firmware bundle in the emulator (" + board.name + ")",
      algs,
      async generate(cases: VectorCase[]) {
        const out: string[] = [];
        for (let i = 0; i < cases.length;) {
          let batch = cases.slice(i, i + BATCH);
          await ok(c, "wipe", { confirm: "wipe" });
          for (let j = 0; j < batch.length; j++) {
            const k = batch[j];
            const r = await c.request("add", { name: "v" + j, key: k.keyHex, alg: k.alg, digits: k.digits, period: k.period });
            if (!r.ok && r.e === "E_STORAGE" && j > 0) {
              storageFull = true; // a board whose Storage holds fewer slots: use what fits
              batch = batch.slice(0, j);
              break;
            }
            if (!r.ok) throw new Error("add failed: " + r.e + " " + r.m);
          }
          i += batch.length;
          for (let j = 0; j < batch.length; j++) {
            emu.control.setClock(batch[j].t);
            const t0 = performance.now();
            const d = await ok(c, "code", { name: "v" + j });
            codeMs += performance.now() - t0;
            codes++;
            out.push(d.codes[0].code);
          }
        }
        return out;
      },
    });
  });
}
