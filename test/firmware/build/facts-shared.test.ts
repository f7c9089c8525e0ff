// The gate and the emulator's realm read the one Espruino facts table (firmware/espruino-facts.mjs): the tables
// they use are the very objects it exports, and each entry does what the table says on both sides.
import { describe, expect, it } from "vitest";
// @ts-expect-error plain .mjs build script without types
import * as gate from "../../../firmware/build/gate.mjs";
import * as FACTS from "../../../firmware/espruino-facts.mjs";
import { BOARDS } from "../../../firmware/emulator/boards.ts";
import { createEmulator } from "../../../firmware/emulator/index.ts";
import { REMOVED } from "../../../firmware/emulator/sandbox.ts";

type Finding = { rule: string; line: number; col: number; message: string };

describe("one facts table for the gate and the emulator", () => {
  it("the gate reads the table itself", () => {
    expect(gate.FACTS.GLOBALS).toBe(FACTS.GLOBALS);
    expect(gate.FACTS.MISSING_MEMBERS).toBe(FACTS.MISSING_MEMBERS);
    expect(gate.STATIC_MEMBERS).toBe(FACTS.STATIC_MEMBERS);
    expect([...gate.GLOBALS]).toEqual(FACTS.GLOBALS);
    expect([...gate.MISSING_METHODS]).toEqual(FACTS.MISSING_METHODS);
  });

  it("the emulator's realm and boards read the table itself", () => {
    expect(REMOVED.globals).toBe(FACTS.MISSING_GLOBALS);
    expect(REMOVED.members).toBe(FACTS.MISSING_MEMBERS);
    expect(BOARDS).toBe(FACTS.BOARDS);
  });

  it("what the table says is missing, the gate flags and the emulator lacks; what it says is present, both keep", async () => {
    const findings = (src: string) => (gate.gate(src, "t.js") as Finding[]).map((f) => f.rule);
    for (const name of FACTS.MISSING_METHODS) expect(findings("var a = []; a." + name + "(1);"), name).not.toEqual([]);
    for (const [, name] of FACTS.PRESENT_MEMBERS.filter(([o]) => o.endsWith(".prototype"))) {
      expect(findings("var a = []; a." + name + "(1);"), name).toEqual([]);
    }
    const emu = createEmulator({ board: "linux", flashed: false });
    await emu.start();
    try {
      // a method is read off an instance (the realm's prototype objects hide every built-in method)
      const instance: Record<string, string> = {
        "Array.prototype": "[]",
        "String.prototype": '""',
        "Uint8Array.prototype": "new Uint8Array(1)",
        "Promise.prototype": "Promise.resolve()",
      };
      const type = (owner: string, name: string) => emu.device.evalExpr("typeof (" + (instance[owner] || owner) + ")." + name);
      for (const name of FACTS.MISSING_GLOBALS) expect(emu.device.evalExpr("typeof " + name), name).toBe("undefined");
      for (const [owner, name] of FACTS.MISSING_MEMBERS) expect(type(owner, name), owner + "." + name).toBe("undefined");
      for (const [owner, name] of FACTS.PRESENT_MEMBERS) expect(type(owner, name), owner + "." + name).not.toBe("undefined");
    } finally {
      await emu.stop();
    }
  });
});
