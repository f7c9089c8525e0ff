// The Espruino gate: one small bad input per rule, each caught by name; clean ES5 passes; the real bundle
// passes; the toolchain's output for the traps it lowers (for-let closures) still runs right.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import vm from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error plain .mjs build script without types
import { gate } from "../../../firmware/build/gate.mjs";
// @ts-expect-error plain .mjs build script without types
import { lowerToEs5, minifyEs5 } from "../../../firmware/build/build.mjs";

type Finding = { rule: string; line: number; col: number; message: string };
const rules = (src: string) => (gate(src, "t.js") as Finding[]).map((f) => f.rule);

const BAD: [string, string, string][] = [
  ["syntax", "let / const", "let x = 1;"],
  ["syntax", "arrow function", "var f = function () { return [1].map((x) => x); };"],
  ["syntax", "default parameter", "function f(a) {} function g(a = 1) {}"],
  ["syntax", "spread", "var a = [1]; var b = [].concat(...a);"],
  ["syntax", "destructuring", "var o = {}; var { a } = o;"],
  ["syntax", "exponent operator", "var x = 2 ** 3;"],
  ["syntax", "optional chaining", "var o = {}; var x = o?.a;"],
  ["syntax", "template literal", "var x = `a`;"],
  ["syntax", "class", "class A {}"],
  ["use-before-define", "call before a later function declaration", "f(); function f() {}"],
  ["use-before-define", "read before a later function declaration", "var g = f; function f() {}"],
  [
    "use-before-define",
    "call reaching a later declaration through an earlier one",
    "function a() { return b(); } a(); function b() { return 1; }",
  ],
  ["use-before-define", "IIFE running before a declaration", "(function () { f(); })(); function f() {}"],
  ["use-before-define", "inside a function body too", "function outer() { inner(); function inner() {} } outer();"],
  ["use-before-define", "var read before its declaration", "function f() { var y = x; var x = 1; return y; } f();"],
  ["prototype-read", "Array.prototype.slice", "var s = Array.prototype.slice;"],
  ["prototype-read", "computed prototype read", "var s = Object.prototype['hasOwnProperty'];"],
  ["label", "labelled loop", "outer: for (;;) { break outer; }"],
  ["label", "labelled continue", "a: for (var i = 0; i < 2; i++) { continue a; }"],
  ["global", "Map", "var m = new Map();"],
  ["global", "Symbol", "var s = Symbol.iterator;"],
  ["global", "implicit global by assignment", "function f() { leaked = 1; } f();"],
  ["global", "eval", "eval('1');"],
  ["missing-builtin", "Array.from", "var a = Array.from('ab');"],
  ["missing-builtin", "Object.freeze", "var o = Object.freeze({});"],
  ["missing-builtin", "Math.trunc", "var x = Math.trunc(1.5);"],
  ["missing-builtin", "Math.imul", "var x = Math.imul(3, 4);"],
  ["missing-builtin", "Number.isInteger", "var x = Number.isInteger(1);"],
  ["missing-builtin", "Number.MAX_SAFE_INTEGER", "var x = Number.MAX_SAFE_INTEGER;"],
  ["missing-builtin", ".finally", "function f(p) { return p.finally(function () {}); }"],
  ["missing-builtin", ".flat", "var a = [[1]].flat();"],
  ["missing-builtin", ".lastIndexOf", "var i = [1].lastIndexOf(1);"],
  ["missing-builtin", "BYTES_PER_ELEMENT", "var n = new Uint8Array(1).BYTES_PER_ELEMENT;"],
  ["regex", "{n} quantifier", "var r = /^[0-9]{6}$/;"],
  ["regex", "{n,m} quantifier", "var r = /a{1,3}/;"],
  ["regex", "lookahead", "var r = /a(?=b)/;"],
  ["regex", "RegExp() with a quantifier", "var r = new RegExp('x{2}');"],
  ["regex", "? quantifier (matches a literal ? on Espruino)", "var r = /^-?[0-9]+$/;"],
  ["regex", "lazy quantifier", "var r = /a+?/;"],
  ["regex", "non-capturing group", "var r = /(?:ab)c/;"],
  ["regex", "quantified group", "var r = /(ab)+/;"],
  ["regex", "| inside a group", "var r = /x(a|b)/;"],
  ["regex", "\\b word boundary (a backspace on Espruino)", "var r = /\\bword/;"],
  ["regex", "backreference", "var r = /(a)\\1/;"],
  ["regex", "\\u escape", "var r = /\\u0041/;"],
  ["regex", "m flag (ignored)", "var r = /^a$/m;"],
  ["regex", "RegExp() with an m flag", "var r = new RegExp('^a', 'm');"],
  ["pin-truthiness", "BTN tested with &&", "function b() { return typeof BTN !== 'undefined' && BTN ? BTN : undefined; }"],
  ["pin-truthiness", "LED1 under if", "if (LED1) digitalWrite(LED1, 1);"],
  ["pin-truthiness", "!BTN1", "var none = !BTN1;"],
  ["json-typed-array", "JSON.stringify of a typed array variable", "var u = new Uint8Array(2); var s = JSON.stringify(u);"],
  ["json-typed-array", "JSON.stringify of a new typed array", "var s = JSON.stringify(new Int32Array(2));"],
  ["arraybuffer-index", "indexing a hash result", "var b = require('crypto').SHA1('x')[0];"],
  ["arraybuffer-index", ".length of a hash result", "var n = require('crypto').SHA256('x').length;"],
  ["shift-width", ">> 32 for the high word", "function hi(c) { return c >> 32; }"],
  ["shift-width", ">>> 32", "function hi(c) { return c >>> 32; }"],
  ["error-name", "e.name of a caught error", "try { null.x; } catch (e) { var n = e.name; }"],
  ["non-ascii", "non-ASCII string", "var s = 'caf\\u00e9';"],
  ["typed-array-slice", "slice of a typed array", "var u = new Uint8Array(4); var v = u.slice(1);"],
  ["typed-array-slice", "filter of a new typed array", "var v = new Uint8Array(4).filter(function (x) { return x; });"],
  ["unbraced-try", "try directly under if", "function f(w) { if (w) try { g(); } catch (e) { } } function g() {}"],
  ["with", "with statement", "var o = {}; with (o) { }"],
];

describe("gate rules", () => {
  it.each(BAD)("%s catches %s", (rule, _what, src) => {
    expect(rules(src)).toContain(rule);
  });

  it("reports file position and a sentence", () => {
    const f = gate("var a = 1;\nf();\nfunction f() {}\n", "x.js") as Finding[];
    expect(f).toEqual([expect.objectContaining({ rule: "use-before-define", line: 2, col: 1 })]);
    expect(f[0].message).toMatch(/hoist/);
  });

  it("passes clean ES5 that uses what Espruino has", () => {
    const ok = [
      "function f() { return g(); } function g() { return 1; } f();",
      "setTimeout(function () { later(); }, 10); function later() {}",
      "var a = [].slice.call([1, 2]); var k = Object.keys({}); var t = typeof Symbol;",
      "var u = new Uint8Array(require('crypto').SHA1('x')); var n = u.length;",
      "function hotp(c) { var hi = Math.floor(c / 4294967296); return hi; }",
      "var r = /^hwt\\.s/; var q = /a+b*/; var g = /(a+)b|c[?|(]\\?/gi; var h = new RegExp('^x+$', 'i');",
      "var s = JSON.stringify([].slice.call(new Uint8Array(2))); var t = JSON.stringify({ a: 1 });",
      "var b = typeof BTN !== 'undefined' ? BTN : undefined; if (b !== undefined) setWatch(function () {}, b, { repeat: false });",
      "function f(D0) { return D0 ? 1 : 0; }",
      "try { null.x; } catch (e) { var m = e.message; }",
      "var E2 = E.getConsole(); USB.write('x'); LoopbackA; process.memory();",
      "var s = 'x'.indexOf('x');",
      "var u = new Uint8Array(4); var v = u.subarray(1); var a = [1, 2].slice(1);",
    ];
    for (const src of ok) expect(gate(src, "ok.js"), src).toEqual([]);
  });
});

describe("gate on the toolchain's output", () => {
  const dir = mkdtempSync(join(tmpdir(), "hwtotp-gate-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("closures made in for (let …) keep their own value after Babel lowering, and pass the gate", async () => {
    const entry = join(dir, "loop.ts");
    writeFileSync(
      entry,
      "const fns: (() => number)[] = [];\nfor (let i = 0; i < 3; i++) fns.push(() => i);\ndeclare const global: " +
        "any;\nglobal.out = fns.map((f) => f());\n",
    );
    const es5 = await lowerToEs5(entry);
    const min = await minifyEs5(es5);
    for (const code of [es5, min]) {
      expect(gate(code, "loop.js")).toEqual([]);
      const ctx: { out?: number[]; global?: unknown } = {};
      ctx.global = ctx;
      vm.runInNewContext(code, ctx);
      expect(ctx.out).toEqual([0, 1, 2]);
    }
  });

  it("the CLI exits non-zero naming file:line and the rule", () => {
    const f = join(dir, "bad.js");
    writeFileSync(f, "var ok = 1;\nvar r = Array.from('x');\n");
    const r = spawnSync(process.execPath, ["firmware/build/gate.mjs", f], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(f + ":2:9 [missing-builtin]");
  });

  it("the real bundle firmware/dist/firmware.js passes (and its unminified ES5 too)", () => {
    const dist = "firmware/dist/firmware.js";
    if (!existsSync(dist)) execFileSync(process.execPath, ["firmware/build/build.mjs"], { stdio: "inherit" });
    expect(gate(readFileSync(dist, "utf8"), dist)).toEqual([]);
    expect(gate(readFileSync("firmware/dist/firmware.es5.js", "utf8"), "firmware.es5.js")).toEqual([]);
  });
});
