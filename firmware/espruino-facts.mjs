// What the real Espruino interpreter (2v29.277) has and lacks, in one table that the gate
// (firmware/build/gate.mjs), the emulator's realm (firmware/emulator/sandbox.ts) and the docs read, and that
// test/real/facts.test.ts checks entry by entry against the real Linux builds (../shared/espruino).
// Board profiles (crypto, Storage size and address, heap, pins) are the other half: firmware/emulator/boards.ts.

/** Globals the firmware may use: what Espruino 2v29 has (and firmware/src/espruino.d.ts declares). */
export const GLOBALS = [
  // language
  "Array", "ArrayBuffer", "Boolean", "DataView", "Date", "Error", "Function", "Infinity", "InternalError",
  "JSON", "Math", "NaN", "Number", "Object", "Promise", "ReferenceError", "RegExp", "String",
  "SyntaxError", "TypeError", "undefined", "isFinite", "isNaN", "parseFloat", "parseInt",
  "encodeURIComponent", "decodeURIComponent", "btoa", "atob",
  "Uint8Array", "Uint8ClampedArray", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array",
  "Float32Array", "Float64Array",
  // Espruino
  "E", "USB", "Serial1", "Bluetooth", "LoopbackA", "LoopbackB", "BTN", "BTN1", "LED1", "LED2", "LED3",
  "getTime", "setTime", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "setWatch", "clearWatch",
  "digitalWrite", "digitalRead", "require", "process", "console", "print", "global",
];

/** Of GLOBALS, the ones a board may not have (pins, LEDs, ports): absent on the Linux builds. */
export const BOARD_GLOBALS = ["USB", "Serial1", "Bluetooth", "BTN", "BTN1", "LED1", "LED2", "LED3"];

/** Built-in globals of a modern JS engine that Espruino 2v29 does not have (the emulator removes them). */
export const MISSING_GLOBALS = [
  "RangeError", "EvalError", "URIError", "AggregateError", "Symbol", "Map", "Set", "WeakMap", "WeakSet", "WeakRef",
  "FinalizationRegistry", "BigInt", "BigInt64Array", "BigUint64Array", "Proxy", "Reflect", "Intl", "WebAssembly",
  "SharedArrayBuffer", "Atomics", "queueMicrotask", "escape", "unescape",
];

/**
 * Members Espruino 2v29 lacks, as [owner, name]: statics ("Math", "trunc") and methods of instances
 * ("Array.prototype", "flat": `[].flat` is undefined there). The gate flags every call of such a method name on
 * any receiver; the emulator deletes them.
 */
export const MISSING_MEMBERS = [
  ["Array", "from"], ["Array", "of"], ["Object", "freeze"], ["Object", "isFrozen"], ["Object", "seal"],
  ["Math", "trunc"], ["Math", "imul"], ["Math", "cbrt"], ["Math", "hypot"], ["Math", "clz32"], ["Math", "fround"],
  ["Number", "isInteger"], ["Number", "isSafeInteger"], ["Number", "MAX_SAFE_INTEGER"], ["Number", "MIN_SAFE_INTEGER"],
  ["Number", "EPSILON"],
  ["Promise", "allSettled"], ["Promise", "any"], ["Promise", "race"], ["Promise.prototype", "finally"],
  ["Array.prototype", "flat"], ["Array.prototype", "flatMap"], ["Array.prototype", "lastIndexOf"],
  ["Array.prototype", "copyWithin"], ["Array.prototype", "at"], ["Array.prototype", "findLast"],
  ["Array.prototype", "findLastIndex"], ["Array.prototype", "toSorted"], ["Array.prototype", "toReversed"],
  ["Array.prototype", "toSpliced"], ["Array.prototype", "with"],
  ["String.prototype", "at"], ["String.prototype", "normalize"], ["String.prototype", "codePointAt"],
  ["String.prototype", "localeCompare"], ["String.prototype", "matchAll"], ["String.prototype", "trimStart"],
  ["String.prototype", "trimEnd"], ["String", "fromCodePoint"], ["String", "raw"],
  ["Uint8Array.prototype", "copyWithin"], ["Uint8Array.prototype", "at"],
];

/**
 * Members a reader might expect missing but Espruino 2v29 has (seen on the real builds): the emulator must keep
 * them, and the gate lets them through.
 */
export const PRESENT_MEMBERS = [
  ["Object", "fromEntries"], ["Object", "entries"], ["Object", "values"], ["Object", "assign"], ["Math", "sign"],
  ["Array", "isArray"], ["Date", "now"],
  ["Array.prototype", "includes"], ["Array.prototype", "fill"], ["Array.prototype", "find"],
  ["Array.prototype", "findIndex"], ["String.prototype", "replaceAll"], ["String.prototype", "padStart"],
  ["String.prototype", "padEnd"], ["String.prototype", "includes"], ["String.prototype", "startsWith"],
  ["String.prototype", "repeat"], ["Uint8Array.prototype", "fill"], ["Uint8Array.prototype", "subarray"],
  ["Uint8Array.prototype", "slice"],
];

/** The statics of each built-in the gate lets the firmware read (anything else read off these is flagged). */
export const STATIC_MEMBERS = {
  Math: ["abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "exp", "floor", "log", "max", "min", "pow",
    "random", "round", "sign", "sin", "sqrt", "tan", "clip", "wrap", "E", "PI", "LN2", "LN10", "LOG2E", "LOG10E",
    "SQRT2", "SQRT1_2"],
  Object: ["keys", "values", "entries", "fromEntries", "assign", "create", "defineProperty", "defineProperties",
    "getOwnPropertyNames", "getOwnPropertyDescriptor", "getPrototypeOf", "setPrototypeOf", "prototype"],
  Array: ["isArray", "prototype"],
  Number: ["MAX_VALUE", "MIN_VALUE", "NaN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY", "prototype"],
  JSON: ["parse", "stringify"],
  String: ["fromCharCode", "prototype"],
  Promise: ["all", "resolve", "reject", "prototype"],
  Date: ["now", "parse", "prototype"],
};

/** Method names the gate flags on any receiver: the instance members of MISSING_MEMBERS. */
export const MISSING_METHODS = [...new Set(MISSING_MEMBERS.filter(([o]) => o.endsWith(".prototype")).map(([, n]) => n))];
