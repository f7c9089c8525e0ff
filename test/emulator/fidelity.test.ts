// Fidelity table: one small program per trap of shared/facts/espruino.md, each asserting what the real
// Espruino 2v29 interpreter does with it. Programs run in the emulator's REPL realm (a fresh board).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../../firmware/emulator/index.ts";

let emu: Emulator;
let out = "";
beforeAll(async () => {
  emu = createEmulator({ board: "pico", flashed: false, clock: 1700000000, frozenClock: true });
  emu.onData((s) => (out += s));
  await emu.start();
});
afterAll(() => emu.stop());

/** Runs a program as the REPL would; returns its value or {error, name} for what it throws. */
function run(src: string): unknown {
  try {
    return emu.device.evalExpr(src);
  } catch (e) {
    const err = e as { message?: string; name?: string; constructor?: { name?: string } };
    return { threw: err && err.constructor ? err.constructor.name : typeof e, name: err ? err.name : undefined };
  }
}

interface Row {
  trap: string;
  program: string;
  /** What the real interpreter gives. */
  device: unknown;
}

const SYNTAX = { threw: "SyntaxError", name: "SyntaxError" };

const table: Row[] = [
  { trap: "default parameters are a syntax error", program: "(function (a = 1) { return a; })()", device: SYNTAX },
  { trap: "rest parameters are a syntax error", program: "(function (...a) { return a; })(1)", device: SYNTAX },
  { trap: "spread is a syntax error", program: "Math.max(...[1, 2])", device: SYNTAX },
  { trap: "destructuring is a syntax error", program: "var { a } = { a: 1 }; a", device: SYNTAX },
  { trap: "optional chaining is a syntax error", program: "var o = null; o?.x", device: SYNTAX },
  { trap: "** is a syntax error", program: "2 ** 3", device: SYNTAX },
  { trap: "computed keys are a syntax error", program: "var k = 'a'; ({ [k]: 1 }).a", device: SYNTAX },
  { trap: "async/await is a syntax error", program: "(async function () { await 1; })", device: SYNTAX },
  { trap: "generators are a syntax error", program: "(function* () { yield 1; })", device: SYNTAX },
  { trap: "labels are a syntax error", program: "outer: for (var i = 0; i < 2; i++) { break outer; }", device: SYNTAX },
  { trap: "tagged templates are a syntax error", program: "String.raw`a`", device: SYNTAX },
  { trap: "Symbol, Map, Set, WeakMap, BigInt, Proxy, Reflect are missing", program: "[typeof Symbol, typeof Map, typeof Set, typeof WeakMap, typeof BigInt, typeof Proxy, typeof Reflect].join()", device: "undefined,undefined,undefined,undefined,undefined,undefined,undefined" },
  { trap: "Array.from, Object.freeze, Math.trunc, Math.imul, Number.isInteger are missing", program: "[typeof Array.from, typeof Object.freeze, typeof Math.trunc, typeof Math.imul, typeof Number.isInteger].join()", device: "undefined,undefined,undefined,undefined,undefined" },
  { trap: "Number.MAX_SAFE_INTEGER is missing", program: "typeof Number.MAX_SAFE_INTEGER", device: "undefined" },
  { trap: "Promise.prototype.finally, Array#flat, Array#lastIndexOf are missing", program: "[typeof Promise.resolve(1).finally, typeof [].flat, typeof [].lastIndexOf].join()", device: "undefined,undefined,undefined" },
  { trap: "no function hoisting, even at top level", program: "var r = typeof later === 'function'; function later() {} r", device: false },
  { trap: "calling a function declared further down fails", program: "callMe(); function callMe() { return 1; }", device: { threw: "TypeError", name: undefined } },
  { trap: "closures in for (let i…) all see the last value", program: "var fs = []; for (let i = 0; i < 3; i++) fs.push(function () { return i; }); fs.map(function (f) { return f(); }).join()", device: "3,3,3" },
  { trap: "a let declared inside the loop body is per iteration", program: "var gs = []; for (var j = 0; j < 3; j++) { let k = j; gs.push(function () { return k; }); } gs.map(function (f) { return f(); }).join()", device: "0,1,2" },
  { trap: "Array.prototype.slice (read off a prototype) is undefined", program: "typeof Array.prototype.slice", device: "undefined" },
  { trap: "[].slice.call(x) works", program: "[].slice.call({ length: 2, 0: 'a', 1: 'b' }).join()", device: "a,b" },
  { trap: "Object.prototype.hasOwnProperty is undefined", program: "typeof Object.prototype.hasOwnProperty", device: "undefined" },
  { trap: "user methods added to a prototype work", program: "Array.prototype.second = function () { return this[1]; }; var s = [1, 2].second(); delete Array.prototype.second; s", device: 2 },
  { trap: "Uint8Array#slice returns a plain Array", program: "Array.isArray(new Uint8Array([1, 2, 3]).slice(1))", device: true },
  { trap: "Uint8Array#filter returns a plain Array", program: "Array.isArray(new Uint8Array([1, 2, 3]).filter(function (x) { return x > 1; }))", device: true },
  { trap: "Uint8Array#subarray and #map stay typed", program: "(new Uint8Array([1, 2]).subarray(1) instanceof Uint8Array) + ',' + (new Uint8Array([1, 2]).map(function (x) { return x; }) instanceof Uint8Array)", device: "true,true" },
  { trap: "Uint8Array.BYTES_PER_ELEMENT is undefined", program: "typeof Uint8Array.BYTES_PER_ELEMENT", device: "undefined" },
  { trap: "static methods are not inherited by subclasses (ES5 inheritance)", program: "function P() {} P.make = function () { return 1; }; function C() { P.call(this); } C.prototype = Object.create(P.prototype); Object.setPrototypeOf(C, P); typeof C.make", device: "undefined" },
  { trap: "errors such as null.x are Errors whose name is undefined", program: "var n; try { null.x; } catch (e) { n = [e instanceof Error, e.name === undefined]; } n.join()", device: "true,true" },
  { trap: "regex {n} quantifiers quietly fail", program: "/^a{2}$/.test('aa')", device: false },
  { trap: "regex lookahead quietly fails", program: "/a(?=b)/.test('ab')", device: false },
  // Source-checked rows (espruino/Espruino src/…, 2v2x): the file each behaviour was read from is named.
  { trap: "jswrap_regexp.c: `?` is a literal char, not a quantifier", program: "[/colou?r/.test('color'), /colou?r/.test('colou?r')].join()", device: "false,true" },
  { trap: "jswrap_regexp.c: `{n}` is literal text", program: "[/a{2}/.test('aa'), /a{2}/.test('a{2}')].join()", device: "false,true" },
  { trap: "jswrap_regexp.c: \\b is a backspace, not a word boundary", program: "/\\bfoo/.test('a foo')", device: false },
  { trap: "jswrap_regexp.c: backreferences throw", program: "/(a)\\1/.test('aa')", device: { threw: "Error", name: "Error" } },
  { trap: "jswrap_regexp.c: `$` alone never matches at the end of a non-empty string", program: "/$/.test('ab')", device: false },
  { trap: "jswrap_regexp.c: * + [] \\d groups ^ $ | i g work", program: "[/^(\\d+)-(\\d+)$/.exec('12-34').slice(1).join(), 'aXbXc'.replace(/x+/gi, '-'), /cat|dog/.test('hotdog')].join(';')", device: "12,34;a-b-c;true" },
  { trap: "jswrap_interactive.c: clearTimeout of an id that is not running throws Unknown Timeout", program: "var ct = setTimeout(function () {}, 1); clearTimeout(ct); clearTimeout(ct)", device: { threw: "Error", name: "Error" } },
  { trap: "jswrap_interactive.c: clearInterval of an unknown id throws Unknown Interval", program: "clearInterval(4242)", device: { threw: "Error", name: "Error" } },
  { trap: "jswrap_interactive.c: clearTimeout() without an id clears all and does not throw", program: "setTimeout(function () {}, 1000); clearTimeout(); 'ok'", device: "ok" },
  { trap: "jswrap_io.c: clearWatch of an unknown id throws Unknown Watch", program: "clearWatch(4242)", device: { threw: "Error", name: "Error" } },
  { trap: "jsvar.c jsvGetInteger: 1e20|0 is 0 (long long conversion), V8 gives 1661992960", program: "var big = 1e20; [1e20 | 0, big | 0, big >>> 0].join()", device: "0,0,0" },
  { trap: "jsvar.c jsvGetInteger: doubles below 2^63 wrap to int32 as in V8", program: "(6e9 | 0) + ',' + (4294967296 + 5 | 0)", device: "1705032704,5" },
  { trap: "errors such as null.x are not instanceof TypeError", program: "var te; try { null.x; } catch (e) { te = e; } [te instanceof TypeError, te instanceof Error, new TypeError('x') instanceof TypeError].join()", device: "false,true,true" },
  { trap: "BYTES_PER_ELEMENT is undefined on typed-array instances too", program: "typeof new Uint8Array(4).BYTES_PER_ELEMENT", device: "undefined" },
  { trap: "crypto hashes return an ArrayBuffer", program: "require('crypto').SHA1('abc') instanceof ArrayBuffer", device: true },
  { trap: "there is no native HMAC", program: "typeof require('crypto').HMAC", device: "undefined" },
  { trap: "a written array reads back as a String", program: "require('Storage').write('arr', [104, 105]); require('Storage').read('arr')", device: "hi" },
  { trap: "Storage names are at most 28 characters", program: "require('Storage').write('abcdefghijklmnopqrstuvwxyz123', 'x')", device: { threw: "Error", name: "Error" } },
  { trap: "getTime() is seconds as a float, Date.now() milliseconds", program: "Math.round(getTime()) + ',' + (Date.now() > 1e12)", device: "1700000000,true" },
  { trap: "classes with extends/super work", program: "class A { constructor(x) { this.x = x; } } class B extends A { constructor() { super(5); } } new B().x", device: 5 },
  { trap: "template literals, arrows, let/const, for..of work", program: "const arr9 = [1, 2]; let sum9 = 0; for (const v of arr9) sum9 += v; `${sum9}` + (() => '!')()", device: "3!" },
];

describe("fidelity: the emulator behaves like Espruino 2v29", () => {
  for (const row of table) {
    it(row.trap, () => {
      expect(run(row.program)).toEqual(row.device);
    });
  }
});

describe("fidelity: pins (jsvar.c: a Pin is integer-ish; jsvGetBool → jsvGetInteger; jsvGetTypeOf → number)", () => {
  it("Puck.js BTN is D0: false under if, 0 in arithmetic, typeof number, prints D0", async () => {
    const e = createEmulator({ board: "puckjs", flashed: false });
    await e.start();
    expect(e.device.evalExpr("[BTN ? 'on' : 'off', !BTN, BTN | 0, BTN == 0, typeof BTN, String(BTN), LED1 ? 'on' : 'off', String(LED1)].join()")).toBe("off,true,0,true,number,D0,on,D5");
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
    expect(() => o.device.evalExpr("require('crypto')")).toThrow(/Module crypto not found/);
    await o.stop();
  });
  it("gives each board its hash set", async () => {
    const seen: Record<string, string> = {};
    for (const b of ["pico", "puckjs", "bangle2", "linux"]) {
      const e = createEmulator({ board: b, flashed: false });
      await e.start();
      seen[b] = e.device.evalExpr("Object.keys(require('crypto')).join()") as string;
      await e.stop();
    }
    expect(seen).toEqual({ pico: "SHA1,SHA256", puckjs: "SHA1,SHA256", bangle2: "SHA1,SHA256,SHA512", linux: "SHA1,SHA256,SHA512" });
  });
  it("delivers port data as strings", async () => {
    const e = createEmulator({ board: "pico", flashed: false });
    await e.start();
    e.device.evalExpr("var got = []; E.setConsole(LoopbackA, { force: true }); USB.on('data', function (d) { got.push(typeof d + ':' + d); });");
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
