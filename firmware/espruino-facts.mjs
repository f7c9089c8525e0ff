// What the real Espruino interpreter (2v29.277) has and lacks, in one table that the gate
// (firmware/build/gate.mjs), the emulator's realm (firmware/emulator/sandbox.ts) and the docs read, and that
// test/real/facts.test.ts checks entry by entry against the real Linux builds (../shared/espruino).
// Board profiles (crypto, Storage size and address, heap, pins) are the other half, BOARDS at the end; the
// emulator reads them through firmware/emulator/boards.ts, and firmware/build/facts-doc.mjs lists them all in
// docs/espruino-facts.md. The fields are documented in espruino-facts.d.mts.

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

// ---------------------------------------------------------------- board profiles

const ALL = ["SHA1", "SHA256", "SHA512"];
/** 32-bit chip, 12-bit references (up to 4,095 variables): 13-byte blocks. */
const ARM12 = { refBits: 12, refcountBits: 8, packBits: 0, word64: false };

// Figures: boards/*.py of Espruino 2v29 ('variables', libraries, saved_code pages) and the two Linux builds
// (../shared/espruino: process.memory(), process.env, getStats() measured).
export const BOARDS = {
  pico: {
    name: "pico", envBoard: "PICO_R1_3", boardJson: "PICO_R1_3.json", hashes: ["SHA1", "SHA256"], pbkdf2: true,
    aes: true,
    storageBytes: 48 * 1024, pageBytes: 16 * 1024, storageStart: 0x08004000, vars: 5100, blockBytes: 13,
    layout: { refBits: 13, refcountBits: 4, packBits: 0, word64: false }, consoleDevice: "USB",
    button: "BTN1", bangle: false, baseVars: 46, memoryMappedFlash: true, leds: ["LED1", "LED2"],
    pinHw: { BTN1: ["C13", 45], LED1: ["B2", 18], LED2: ["B12", 28] }, rtc: "stm32", utf8: false, setTimeNoop: false,
    hwRandRepeats: false,
  },
  puckjs: {
    name: "puckjs", envBoard: "PUCKJS", boardJson: "PUCKJS.json", hashes: ["SHA1", "SHA256"], pbkdf2: false, aes: true,
    storageBytes: 40 * 1024, pageBytes: 4096, storageStart: 0x6c000, vars: 2630, blockBytes: 13, layout: ARM12,
    consoleDevice: "Bluetooth",
    button: "BTN1", bangle: false, baseVars: 46, memoryMappedFlash: true, leds: ["LED1", "LED2", "LED3"],
    pinHw: { BTN1: ["D0", 0], LED1: ["D5", 5], LED2: ["D4", 4], LED3: ["D3", 3] }, rtc: "nrf52", utf8: false,
    setTimeNoop: false, hwRandRepeats: false,
  },
  bangle2: {
    name: "bangle2", envBoard: "BANGLEJS2", boardJson: "BANGLEJS2.json", hashes: ALL, pbkdf2: false, aes: false,
    storageBytes: 8 * 1024 * 1024, pageBytes: 4096, storageStart: 0x60000000, vars: 12000, blockBytes: 14,
    layout: { refBits: 14, refcountBits: 8, packBits: 0, word64: false }, consoleDevice: "Bluetooth",
    button: "BTN1", bangle: true, baseVars: 46, memoryMappedFlash: false, leds: [], pinHw: { BTN1: ["D17", 17] },
    rtc: "nrf52", utf8: false, setTimeNoop: false, hwRandRepeats: false,
  },
  original: {
    name: "original", envBoard: "ESPRUINOBOARD", boardJson: "ESPRUINOBOARD.json", hashes: null, pbkdf2: false,
    aes: false,
    storageBytes: 20 * 1024, pageBytes: 2048, storageStart: 0x0803b000, vars: 2756, blockBytes: 13, layout: ARM12,
    consoleDevice: "USB",
    button: "BTN1", bangle: false, baseVars: 46, memoryMappedFlash: true, leds: ["LED1", "LED2", "LED3"],
    pinHw: { BTN1: ["B12", 28], LED1: ["A13", 13], LED2: ["A14", 14], LED3: ["A15", 15] }, rtc: "stm32", utf8: false,
    setTimeNoop: false, hwRandRepeats: false,
  },
  // The stock Linux build (`make BOARD=LINUX`): resizable heap (32-bit references, 27-byte blocks) that starts at
  // 4,096 variables and grows; the cap here is that start.
  linux: {
    name: "linux", envBoard: "LINUX", boardJson: "LINUX.json", hashes: ALL, pbkdf2: true, aes: true,
    storageBytes: 256 * 1024, pageBytes: 1024, storageStart: 0x10000000, vars: 4096, blockBytes: 27,
    layout: { refBits: 32, refcountBits: 8, packBits: 0, word64: true }, consoleDevice: "USB",
    button: undefined, bangle: false, baseVars: 55, memoryMappedFlash: false, leds: [], pinHw: {}, rtc: "host",
    utf8: true, setTimeNoop: true, hwRandRepeats: true,
  },
  // The same board file with 'variables': 2500 (../shared/espruino/espruino-linux-2500, BOARD LINUX_SMALL): a
  // Puck.js-size heap, but 64-bit, so 8-character names and 17-byte blocks where a Puck.js has 4 and 13.
  linux2500: {
    name: "linux2500", envBoard: "LINUX_SMALL", boardJson: "LINUX.json", hashes: ALL, pbkdf2: true, aes: true,
    storageBytes: 256 * 1024, pageBytes: 1024, storageStart: 0x10000000, vars: 2500, blockBytes: 17,
    layout: { refBits: 12, refcountBits: 8, packBits: 0, word64: true }, consoleDevice: "USB",
    button: undefined, bangle: false, baseVars: 46, memoryMappedFlash: false, leds: [], pinHw: {}, rtc: "host",
    utf8: true, setTimeNoop: true, hwRandRepeats: true,
  },
};
