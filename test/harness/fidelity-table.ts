// The fidelity table: one small program per trap of docs/facts/espruino.md (or behaviour read in the Espruino
// source), each with what the real Espruino 2v29 interpreter gives. fidelity.test.ts runs every row in the emulator;
// fidelity-real.test.ts runs the same rows on the real Linux builds (../shared/espruino), so a row that stops
// being true of the real interpreter fails there.

/** The program's value, or {threw, name} for what it throws (threw: the most specific Espruino error class). */
export interface Row {
  trap: string;
  program: string;
  /** What the real interpreter gives. */
  device: unknown;
  /** Not checkable on the Linux build (it needs a board's clock, pins…): the reason. */
  notOnLinux?: string;
  /** Where the emulator knowingly differs: what it gives instead (fidelity.test.ts checks this), and why. */
  emulator?: unknown;
  differs?: string;
}

const STRICTER = "the emulator rejects the syntax at load (acorn, transform.ts): stricter than the device, the safe direction";

export const SYNTAX = { threw: "SyntaxError", name: undefined };

export const table: Row[] = [
  { trap: "default parameters are a syntax error", program: "(function (a = 1) { return a; })()", device: SYNTAX },
  { trap: "rest parameters are a syntax error", program: "(function (...a) { return a; })(1)", device: SYNTAX },
  { trap: "spread is a syntax error", program: "Math.max(...[1, 2])", device: SYNTAX },
  {
    trap: "destructuring does not work (the device misreads it: a stays undefined)",
    program: "var { a } = { a: 1 }; a",
    device: { threw: "ReferenceError", name: undefined },
    emulator: SYNTAX,
    differs: STRICTER,
  },
  { trap: "optional chaining is a syntax error", program: "var o = null; o?.x", device: SYNTAX },
  { trap: "** is a syntax error", program: "2 ** 3", device: SYNTAX },
  { trap: "computed keys are a syntax error", program: "var k = 'a'; ({ [k]: 1 }).a", device: SYNTAX },
  { trap: "async/await is a syntax error", program: "(async function () { await 1; })", device: SYNTAX },
  { trap: "generators are a syntax error", program: "(function* () { yield 1; })", device: SYNTAX },
  {
    trap: "labels do not work (the device reads the label as a variable)",
    program: "outer: for (var i = 0; i < 2; i++) { break outer; }",
    device: { threw: "ReferenceError", name: undefined },
    emulator: SYNTAX,
    differs: STRICTER,
  },
  {
    trap: 'tagged templates do not work (the device drops the tag: String.raw`a` is "a")',
    program: "String.raw`a`",
    device: "a",
    emulator: SYNTAX,
    differs: STRICTER,
  },
  {
    trap: "Symbol, Map, Set, WeakMap, BigInt, Proxy, Reflect are missing",
    program: "[typeof Symbol, typeof Map, typeof Set, typeof WeakMap, typeof BigInt, typeof Proxy, typeof Reflect].join()",
    device: "undefined,undefined,undefined,undefined,undefined,undefined,undefined",
  },
  {
    trap: "Array.from, Object.freeze, Math.trunc, Math.imul, Number.isInteger are missing",
    program: "[typeof Array.from, typeof Object.freeze, typeof Math.trunc, typeof Math.imul, typeof Number.isInteger].join()",
    device: "undefined,undefined,undefined,undefined,undefined",
  },
  { trap: "Number.MAX_SAFE_INTEGER is missing", program: "typeof Number.MAX_SAFE_INTEGER", device: "undefined" },
  {
    trap: "Promise.prototype.finally, Array#flat, Array#lastIndexOf are missing",
    program: "[typeof Promise.resolve(1).finally, typeof [].flat, typeof [].lastIndexOf].join()",
    device: "undefined,undefined,undefined",
  },
  { trap: "no function hoisting, even at top level", program: "var r = typeof later === 'function'; function later() {} r", device: false },
  {
    trap: "calling a function declared further down fails",
    program: "callMe(); function callMe() { return 1; }",
    device: { threw: "ReferenceError", name: undefined },
    emulator: { threw: "Error", name: undefined },
    differs:
      "transform.ts runs the declaration as `var f = function f(){}`, so V8 knows the name (undefined) and raises an " +
      "engine TypeError (an Error here, as null.x); on the device the name does not exist yet",
  },
  {
    trap: "closures in for (let i…) all see the last value",
    program: "var fs = []; for (let i = 0; i < 3; i++) fs.push(function () { return i; }); fs.map(function (f) { return f(); }).join()",
    device: "3,3,3",
  },
  {
    trap: "a let declared inside the loop body is per iteration",
    program:
      "var gs = []; for (var j = 0; j < 3; j++) { let k = j; gs.push(function () { return k; }); } gs.map(function (f) " +
      "{ return f(); }).join()",
    device: "0,1,2",
  },
  { trap: "Array.prototype.slice (read off a prototype) is undefined", program: "typeof Array.prototype.slice", device: "undefined" },
  {
    trap: "[].slice.call(x) of an array-like reads its keys in order (length included)",
    program: "[].slice.call({ length: 2, 0: 'a', 1: 'b' }).join()",
    device: "2,b",
    emulator: "a,b",
    differs: "V8's slice: not modelled; use [].slice.call only on real arrays or strings",
  },
  {
    trap: "Object.prototype's own hasOwnProperty, toString, valueOf are readable off any prototype",
    program:
      "[typeof Object.prototype.hasOwnProperty, typeof Array.prototype.toString, typeof Number.prototype.valueOf, " +
      "typeof Object.prototype.isPrototypeOf].join()",
    device: "function,function,function,undefined",
  },
  {
    trap: "user methods added to a prototype work",
    program: "Array.prototype.second = function () { return this[1]; }; var s = [1, 2].second(); delete Array.prototype.second; s",
    device: 2,
  },
  { trap: "Uint8Array#slice returns a plain Array", program: "Array.isArray(new Uint8Array([1, 2, 3]).slice(1))", device: true },
  {
    trap: "Uint8Array#filter returns a plain Array",
    program: "Array.isArray(new Uint8Array([1, 2, 3]).filter(function (x) { return x > 1; }))",
    device: true,
  },
  {
    trap: "Uint8Array#subarray and #map stay typed",
    program:
      "(new Uint8Array([1, 2]).subarray(1) instanceof Uint8Array) + ',' + (new Uint8Array([1, 2]).map(function (x) { " +
      "return x; }) instanceof Uint8Array)",
    device: "true,true",
  },
  { trap: "Uint8Array.BYTES_PER_ELEMENT is undefined", program: "typeof Uint8Array.BYTES_PER_ELEMENT", device: "undefined" },
  {
    trap: "static methods are not inherited by subclasses (ES5 inheritance)",
    program:
      "function P() {} P.make = function () { return 1; }; function C() { P.call(this); } C.prototype = " +
      "Object.create(P.prototype); Object.setPrototypeOf(C, P); typeof C.make",
    device: "undefined",
  },
  {
    trap: "errors such as null.x are Errors whose name is undefined",
    program: "var n; try { null.x; } catch (e) { n = [e instanceof Error, e.name === undefined]; } n.join()",
    device: "true,true",
  },
  { trap: "regex {n} quantifiers quietly fail", program: "/^a{2}$/.test('aa')", device: false },
  { trap: "regex lookahead quietly fails", program: "/a(?=b)/.test('ab')", device: false },
  // Source-checked rows (espruino/Espruino src/…, 2v2x): the file each behaviour was read from is named.
  {
    trap: "jswrap_regexp.c: `?` is a literal char, not a quantifier",
    program: "[/colou?r/.test('color'), /colou?r/.test('colou?r')].join()",
    device: "false,true",
  },
  { trap: "jswrap_regexp.c: `{n}` is literal text", program: "[/a{2}/.test('aa'), /a{2}/.test('a{2}')].join()", device: "false,true" },
  { trap: "jswrap_regexp.c: \\b is a backspace, not a word boundary", program: "/\\bfoo/.test('a foo')", device: false },
  { trap: "jswrap_regexp.c: backreferences throw", program: "/(a)\\1/.test('aa')", device: { threw: "Error", name: undefined } },
  {
    trap: "jswrap_regexp.c: plain text then `$` is an endsWith shortcut (case-sensitive, even with i)",
    program: "[/$/.test('ab'), /$/.exec('ab').index, /b$/.test('ab'), 'ab'.replace(/$/, 'X'), /B$/i.test('ab')].join()",
    device: "true,2,true,abX,true",
  },
  {
    trap: "jswrap_regexp.c: * + [] \\d groups ^ $ | i g work",
    program: "[/^(\\d+)-(\\d+)$/.exec('12-34').slice(1).join(), 'aXbXc'.replace(/x+/gi, '-'), /cat|dog/.test('hotdog')].join(';')",
    device: "12,34;a-b-c;true",
  },
  {
    trap: "jswrap_interactive.c: clearTimeout of an id that is not running is ignored",
    program: "var ct = setTimeout(function () {}, 1); clearTimeout(ct); clearTimeout(ct)",
    device: undefined,
  },
  { trap: "jswrap_interactive.c: clearInterval of an unknown id is ignored", program: "clearInterval(4242)", device: undefined },
  {
    trap: "jswrap_interactive.c: clearTimeout(undefined) throws (only clearTimeout() clears all)",
    program: "clearTimeout(undefined)",
    device: { threw: "Error", name: undefined },
  },
  {
    trap: "jswrap_interactive.c: clearTimeout() without an id clears all and does not throw",
    program: "setTimeout(function () {}, 1000); clearTimeout(); 'ok'",
    device: "ok",
  },
  {
    trap: "jswrap_io.c: clearWatch of an unknown id throws Unknown Watch",
    program: "var cw; try { clearWatch(4242); } catch (e) { cw = [e instanceof Error, e.message]; } cw.join()",
    device: "true,Unknown Watch 4242",
  },
  {
    trap: "jsvar.c jsvGetInteger: 1e20|0 is 0 (long long conversion), V8 gives 1661992960",
    program: "var big = 1e20; [1e20 | 0, big | 0, big >>> 0].join()",
    device: "0,0,0",
  },
  {
    trap: "jsvar.c jsvGetInteger: doubles below 2^63 wrap to int32 as in V8",
    program: "(6e9 | 0) + ',' + (4294967296 + 5 | 0)",
    device: "1705032704,5",
  },
  {
    trap: "errors such as null.x are not instanceof TypeError",
    program:
      "var te; try { null.x; } catch (e) { te = e; } [te instanceof TypeError, te instanceof Error, new TypeError('x') " +
      "instanceof TypeError].join()",
    device: "false,true,true",
  },
  {
    trap: "BYTES_PER_ELEMENT is undefined on typed-array instances too",
    program: "typeof new Uint8Array(4).BYTES_PER_ELEMENT",
    device: "undefined",
  },
  { trap: "crypto hashes return an ArrayBuffer", program: "require('crypto').SHA1('abc') instanceof ArrayBuffer", device: true },
  { trap: "there is no native HMAC", program: "typeof require('crypto').HMAC", device: "undefined" },
  {
    trap: "a written array reads back as a String",
    program: "require('Storage').write('arr', [104, 105]); require('Storage').read('arr')",
    device: "hi",
  },
  {
    trap: "Storage names are cut to 28 characters (jsfNameFromVar)",
    program:
      "var S = require('Storage'); S.write('abcdefghijklmnopqrstuvwxyz123', 'x'); var l = S.list(/^abcdefghij/); " +
      "S.erase('abcdefghijklmnopqrstuvwxyz12'); l.join()",
    device: "abcdefghijklmnopqrstuvwxyz12",
  },
  {
    trap: "getTime() is seconds as a float, Date.now() milliseconds",
    program: "Math.round(getTime()) + ',' + (Date.now() > 1e12)",
    device: "1700000000,true",
    notOnLinux: "the Linux build's clock is the host's (setTime does nothing)",
  },
  {
    trap: "classes with extends/super work",
    program: "class A { constructor(x) { this.x = x; } } class B extends A { constructor() { super(5); } } new B().x",
    device: 5,
  },
  {
    trap: "template literals, arrows, let/const, for..of work",
    program: "const arr9 = [1, 2]; let sum9 = 0; for (const v of arr9) sum9 += v; `${sum9}` + (() => '!')()",
    device: "3!",
  },
];
