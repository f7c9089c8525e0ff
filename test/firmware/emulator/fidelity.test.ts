// Fidelity table: one small program per trap of docs/facts/espruino.md, each asserting what the real
// Espruino 2v29 interpreter does with it. Programs run in the emulator's REPL realm (a fresh board).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../../../firmware/emulator/index.ts";
import { table } from "../../harness/fidelity-table.ts";

let emu: Emulator;
let out = "";
beforeAll(async () => {
  emu = createEmulator({ board: "pico", flashed: false, clock: 1700000000, frozenClock: true });
  emu.onData((s) => (out += s));
  await emu.start();
});
afterAll(() => emu.stop());

/** Runs a program as the REPL would; returns its value or {threw, name} for what it throws (classified in the realm). */
function run(src: string): unknown {
  try {
    return emu.device.evalExpr(src);
  } catch (e) {
    const classify = emu.device.realm.run(
      "(function (e) { return { threw: e instanceof SyntaxError ? 'SyntaxError' : e instanceof ReferenceError ? " +
        "'ReferenceError' : e instanceof TypeError ? 'TypeError' : e instanceof InternalError ? 'InternalError' : e " +
        "instanceof Error ? 'Error' : typeof e, name: e ? e.name : undefined }; })",
      "classify",
    ) as (e: unknown) => unknown;
    return JSON.parse(JSON.stringify(classify(e)));
  }
}

describe("fidelity: the emulator behaves like Espruino 2v29", () => {
  for (const row of table) {
    it(row.trap, () => {
      expect(run(row.program)).toEqual("emulator" in row ? row.emulator : row.device);
    });
  }
});

describe("fidelity: pins (jsvar.c: a Pin is integer-ish; jsvGetBool → jsvGetInteger; jsvGetTypeOf → number)", () => {
  it("Puck.js BTN is D0: false under if, 0 in arithmetic, typeof number, prints D0", async () => {
    const e = createEmulator({ board: "puckjs", flashed: false });
    await e.start();
    expect(
      e.device.evalExpr("[BTN ? 'on' : 'off', !BTN, BTN | 0, BTN == 0, typeof BTN, String(BTN), LED1 ? 'on' : 'off', String(LED1)].join()"),
    ).toBe("off,true,0,true,number,D0,on,D5");
    expect(e.device.evalExpr("var seen = 0; if (BTN) seen = 1; seen")).toBe(0);
    await e.stop();
  });
  it("Pico BTN is C13, a non-zero pin: true under if", async () => {
    const e = createEmulator({ board: "pico", flashed: false });
    await e.start();
    expect(e.device.evalExpr("[BTN ? 'on' : 'off', typeof BTN, String(BTN)].join()")).toBe("on,number,C13");
    await e.stop();
  });
});

describe("fidelity: boards", () => {
  it("has no crypto module on the Original (JS SHA1 path)", async () => {
    const o = createEmulator({ board: "original", flashed: false });
    await o.start();
    expect(() => o.device.evalExpr("require('crypto')")).toThrow(/Module "crypto" not found/);
    await o.stop();
  });
  it("gives each board its hash set, PBKDF2 and AES where it has them (non-enumerable, as on the device)", async () => {
    const seen: Record<string, string> = {};
    const fns = ["SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "PBKDF2", "AES"];
    for (const b of ["pico", "puckjs", "bangle2", "linux", "linux2500"]) {
      const e = createEmulator({ board: b, flashed: false });
      await e.start();
      seen[b] = e.device.evalExpr(
        "var c = require('crypto'); " +
          JSON.stringify(fns) +
          ".filter(function (k) { return c[k] !== undefined; }).join() + ';' + Object.keys(c).length",
      ) as string;
      await e.stop();
    }
    expect(seen).toEqual({
      pico: "SHA1,SHA224,SHA256,PBKDF2,AES;0",
      puckjs: "SHA1,SHA224,SHA256,AES;0",
      bangle2: "SHA1,SHA224,SHA256,SHA384,SHA512;0",
      linux: "SHA1,SHA224,SHA256,SHA384,SHA512,PBKDF2,AES;0",
      linux2500: "SHA1,SHA224,SHA256,SHA384,SHA512,PBKDF2,AES;0",
    });
  });
  it("delivers port data as strings", async () => {
    const e = createEmulator({ board: "pico", flashed: false });
    await e.start();
    e.device.evalExpr(
      "var got = []; E.setConsole(LoopbackA, { force: true }); USB.on('data', function (d) { got.push(typeof d + ':' + d); });",
    );
    e.write("ab");
    expect(e.device.evalExpr("got.join()")).toBe("string:ab");
    expect(e.device.evalExpr("E.getConsole()")).toBe("LoopbackA");
    await e.stop();
  });
  it("fails with Out of Memory when data exceeds the variable cap", async () => {
    const e = createEmulator({ board: "puckjs", flashed: false, heapCheck: "always" });
    let text = "";
    e.onData((s) => (text += s));
    await e.start();
    e.write("\x10var big = []; for (var i = 0; i < 3000; i++) big.push({ a: i + 0.5 });\n");
    expect(text).toContain("Out of Memory!");
    const mem = e.device.evalExpr("process.memory()") as { usage: number; total: number };
    expect(mem.total).toBe(2630);
    await e.stop();
  });
  it("gives the REPL back when the button is held at boot", async () => {
    const e = createEmulator({ board: "pico", clock: 1700000000 });
    await e.start();
    expect(e.control.mode()).toBe("firmware");
    e.control.holdButton(true);
    e.control.reset();
    expect(e.control.mode()).toBe("repl");
    e.control.holdButton(false);
    e.control.reset();
    expect(e.control.mode()).toBe("firmware");
    await e.stop();
  });
  it("loses the time on power loss on STM32, keeps it across reset", async () => {
    const e = createEmulator({ board: "pico", flashed: false, clock: 1700000000, frozenClock: true });
    await e.start();
    e.control.advance(10);
    e.control.reset();
    expect(Math.round(e.control.now())).toBe(1700000010);
    e.control.powerCycle();
    expect(e.control.now()).toBeLessThan(1);
    await e.stop();
  });
  it("fast-forwards timers with the clock and applies drift", async () => {
    const e = createEmulator({ board: "pico", flashed: false, clock: 1700000000, frozenClock: true });
    await e.start();
    e.device.evalExpr("var ticks = 0; setInterval(function () { ticks++; }, 1000);");
    e.control.advance(60);
    expect(e.device.evalExpr("ticks")).toBe(60);
    e.device.evalExpr("setTime(1800000000)");
    expect(Math.round(e.control.now())).toBe(1800000000);
    await e.stop();
  });
});
