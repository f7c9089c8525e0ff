// A power cut in the middle of every kind of Storage write leaves a readable store: for each operation, the
// cut is placed after every one of its flash steps in turn; after power-up the store lists, every other file
// reads back unchanged (compaction excepted: see below), and the target is absent, old, new, or (for a file
// being programmed) partly written.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createEmulator } from "../../../firmware/emulator/index.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-cut-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const OTHER = { ".bootcde": "print('boot')", keep1: "k".repeat(700), keep2: JSON.stringify({ a: 1, b: [1, 2, 3] }) };
const OLD = "old-" + "o".repeat(600);
const NEW = "new-" + "n".repeat(900);

interface Op {
  name: string;
  /** Program run on the device: the write under test. */
  program: string;
  target: string;
  /** Contents the target may legitimately have after the cut (undefined = absent). */
  allowed: (string | undefined)[];
  /** Also accept a partly programmed NEW (same length, a prefix of NEW then 0xFF bytes). */
  partial?: string;
  /**
   * Compaction rewrites pages in place from a RAM copy, as a device without a spare page must: a cut there
   * can lose files not yet rewritten (each is then absent, never garbage). The firmware must not rely on it.
   */
  othersMayVanish?: boolean;
}

const OPS: Op[] = [
  {
    name: "write of a new file",
    program: `require("Storage").write("t", ${JSON.stringify(NEW)})`,
    target: "t",
    allowed: [undefined, NEW],
    partial: NEW,
  },
  {
    name: "overwrite of a file",
    program: `require("Storage").write("old", ${JSON.stringify(NEW)})`,
    target: "old",
    allowed: [undefined, OLD, NEW],
    partial: NEW,
  },
  {
    name: "write at an offset into a pre-sized file",
    program: `require("Storage").write("pre", "PART2", 5)`,
    target: "pre",
    allowed: ["PART1\xff\xff\xff\xff\xff", "PART1PART2"],
  },
  {
    name: "writeJSON",
    program: `require("Storage").writeJSON("j", { v: ${JSON.stringify(NEW)} })`,
    target: "j",
    allowed: [undefined, JSON.stringify({ v: NEW })],
    partial: JSON.stringify({ v: NEW }),
  },
  { name: "erase", program: `require("Storage").erase("old")`, target: "old", allowed: [undefined, OLD] },
  { name: "compact", program: `require("Storage").compact()`, target: "old", allowed: [OLD, undefined], othersMayVanish: true },
];

function isPartial(got: string, want: string): boolean {
  if (got.length !== want.length) return false;
  let i = 0;
  while (i < got.length && got[i] === want[i]) i++;
  for (; i < got.length; i++) if (got.charCodeAt(i) !== 0xff) return false;
  return true;
}

async function prepared(state: string) {
  fs.rmSync(state, { force: true });
  const e = createEmulator({ board: "puckjs", flashed: false, stateFile: state, clock: 1700000000, frozenClock: true });
  await e.start();
  const S = (js: string) => e.device.evalExpr(js);
  for (const [k, v] of Object.entries(OTHER)) S(`require("Storage").write(${JSON.stringify(k)}, ${JSON.stringify(v)})`);
  S(`require("Storage").write("old", ${JSON.stringify(OLD)})`);
  S(`require("Storage").write("trash", "x".repeat(300)); require("Storage").erase("trash")`);
  S(`require("Storage").write("pre", "PART1", 0, 10)`);
  await e.stop();
  return fs.readFileSync(state);
}

describe("Storage survives a power cut in the middle of any write", () => {
  for (const op of OPS) {
    it(op.name, async () => {
      const state = path.join(dir, op.target + "-" + op.name.replace(/\W+/g, "_") + ".json");
      const image = await prepared(state);
      // How many flash steps does the operation take uncut?
      let e = createEmulator({ board: "puckjs", flashed: false, stateFile: state, clock: 1700000000, frozenClock: true });
      await e.start();
      const before = e.control.flashSteps();
      e.device.evalExpr(op.program);
      const steps = e.control.flashSteps() - before;
      await e.stop();
      expect(steps).toBeGreaterThan(0);
      for (let k = 0; k <= steps; k++) {
        fs.writeFileSync(state, image);
        e = createEmulator({ board: "puckjs", flashed: false, stateFile: state, clock: 1700000000, frozenClock: true });
        await e.start();
        e.control.powerCutAfter(k);
        try {
          e.device.evalExpr(op.program);
        } catch (err) {
          expect((err as Error).name, "cut after " + k + " of " + steps).toBe("PowerCut");
        }
        await e.stop();
        // Power back: the store must read.
        const after = createEmulator({ board: "puckjs", flashed: false, stateFile: state });
        await after.start();
        const names = after.control.storage().map((f) => f.name);
        const ctx = op.name + ", cut after step " + k + " of " + steps;
        for (const [name, v] of Object.entries(OTHER)) {
          const got = after.control.readFile(name);
          if (op.othersMayVanish && got === undefined) continue;
          expect(got, ctx + ": " + name).toBe(v);
        }
        const got = after.control.readFile(op.target);
        const fine = op.allowed.indexOf(got) >= 0 || (op.partial !== undefined && got !== undefined && isPartial(got, op.partial));
        expect(fine, ctx + ": " + op.target + " = " + JSON.stringify(got && got.substring(0, 40))).toBe(true);
        expect(new Set(names).size, ctx + ": no duplicate names").toBe(names.length);
        after.device.evalExpr(`require("Storage").write("after", "ok")`);
        expect(after.control.readFile("after"), ctx + ": still writable").toBe("ok");
        await after.stop();
      }
    });
  }
});
