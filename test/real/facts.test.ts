// The one Espruino facts table (firmware/espruino-facts.mjs), checked entry by entry: on each real Linux build
// of ../shared/espruino (a probe script run by the interpreter itself, stdin closed so it exits), and in the
// emulator's realm, which must agree with the real interpreter on every entry. Board globals (pins, LEDs,
// ports) differ per board (firmware/emulator/boards.ts) and are left out of the "present" check. The real part
// is pending without the interpreter.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../../firmware/emulator/index.ts";
import {
  BOARD_GLOBALS,
  GLOBALS,
  MISSING_GLOBALS,
  MISSING_MEMBERS,
  PRESENT_MEMBERS,
  STATIC_MEMBERS,
} from "../../firmware/espruino-facts.mjs";
import { espruinoBuilds } from "../harness/real-interpreter.ts";
import { pending } from "../harness/real-suites.ts";

const NAMES = [...GLOBALS, ...MISSING_GLOBALS];
const MEMBERS = [...MISSING_MEMBERS, ...PRESENT_MEMBERS, ...Object.entries(STATIC_MEMBERS).flatMap(([o, ns]) => ns.map((n) => [o, n]))];

/**
 * ES5 the interpreter runs: one line "F <0|1>…" per list (G: is each name defined, M: does each member exist,
 * read off an instance for ".prototype"), printed as it goes (the 2,500-variable heap cannot hold one object
 * with every answer).
 */
const PROBE = `function inst(o) {
  return o === "Array.prototype" ? [] : o === "String.prototype" ? "x" : o === "Uint8Array.prototype" ? new Uint8Array(2) :
    o === "Promise.prototype" ? Promise.resolve(1) : eval(o);
}
function has(o, n) { try { var x = inst(o); return x !== undefined && x[n] !== undefined; } catch (e) { return false; } }
function def(g) { try { return g === "undefined" || eval("typeof " + g) !== "undefined"; } catch (e) { return false; } }
var s = "";
${NAMES.map((g) => "s += def(" + JSON.stringify(g) + ") ? 1 : 0;").join("\n")}
print("FG " + s);
s = "";
${MEMBERS.map(([o, n]) => "s += has(" + JSON.stringify(o) + ", " + JSON.stringify(n) + ") ? 1 : 0;").join("\n")}
print("FM " + s);
`;

/** The probe's two lines as what it saw. */
function parse(out: string): Seen {
  const line = (k: string) => (out.split(/\r?\n/).find((l) => l.startsWith(k + " ")) || "").slice(k.length + 1);
  const g = line("FG");
  const m = line("FM");
  expect(g.length, out).toBe(NAMES.length);
  expect(m.length, out).toBe(MEMBERS.length);
  const seen: Seen = { g: {}, m: {} };
  NAMES.forEach((n, i) => (seen.g[n] = g[i] === "1"));
  MEMBERS.forEach(([o, n], i) => (seen.m[o + "." + n] = m[i] === "1"));
  return seen;
}

interface Seen {
  g: Record<string, boolean>;
  m: Record<string, boolean>;
}

function check(seen: Seen): void {
  const wrong: string[] = [];
  for (const g of MISSING_GLOBALS) if (seen.g[g]) wrong.push(g + " exists (table: missing)");
  for (const g of GLOBALS) if (!seen.g[g] && !BOARD_GLOBALS.includes(g)) wrong.push(g + " is missing (table: allowed)");
  for (const [o, n] of MISSING_MEMBERS) if (seen.m[o + "." + n]) wrong.push(o + "." + n + " exists (table: missing)");
  for (const [o, n] of PRESENT_MEMBERS) if (!seen.m[o + "." + n]) wrong.push(o + "." + n + " is missing (table: present)");
  for (const [o, ns] of Object.entries(STATIC_MEMBERS))
    for (const n of ns) if (!seen.m[o + "." + n]) wrong.push(o + "." + n + " is missing (table: static)");
  expect(wrong).toEqual([]);
}

const builds = espruinoBuilds();
if (!builds.length) pending("Espruino facts table on the real interpreter", "no ../shared/espruino build (or HWTOTP_ESPRUINO)");

describe("the Espruino facts table", () => {
  for (const b of builds) {
    it("holds on the real " + b.name, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-facts-"));
      try {
        const file = path.join(dir, "probe.js");
        fs.writeFileSync(file, PROBE);
        // stdin is /dev/null: the interpreter runs the file, prints, reads EOF and exits (spawnSync's timeout kills it by pid otherwise)
        const r = spawnSync(b.binary, [file], { cwd: dir, encoding: "latin1", timeout: 20000, stdio: ["ignore", "pipe", "pipe"] });
        check(parse(r.stdout + r.stderr));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  describe("in the emulator's realm", () => {
    let emu: Emulator;
    beforeAll(async () => {
      emu = createEmulator({ board: "pico", flashed: false, clock: 1700000000, frozenClock: true });
      await emu.start();
    });
    afterAll(() => emu.stop());
    it("holds on a pico profile", () => {
      let out = "";
      emu.onData((d) => (out += d));
      emu.device.evalExpr(PROBE);
      check(parse(out));
    });
  });
});
