// The interpreter's own globals: print and console, Espruino's Math additions, the helpers the source transform
// (transform.ts) routes Espruino's semantics through, reset/load/save/echo, btoa/atob, JSON as the device parses
// it, require (the board's modules), process and E.
import { randomBytes } from "node:crypto";
import { isLinux } from "./boards.ts";
import type { Define, DeviceCore } from "./core.ts";
import { formatValue } from "./format.ts";
import { countBlocks, stringBlocks } from "./heap.ts";
import { espruinoJsonParse } from "./json.ts";
import { isPin } from "./pins.ts";
import { fromLatin1 } from "./storage.ts";

export const ESPRUINO_VERSION = "2v29";
const INT64 = 9223372036854775808;

/** print, global, Math.clip and Math.wrap, console. */
export function installConsole(core: DeviceCore, def: Define): void {
  const g = core.realm.global;
  const fmt = (args: IArguments | unknown[]): string => {
    const parts: string[] = [];
    for (let i = 0; i < args.length; i++) parts.push(typeof args[i] === "string" ? (args[i] as string) : formatValue(args[i]));
    return parts.join(" ");
  };
  const print = function () {
    core.consoleWrite(fmt(arguments) + "\r\n");
  };
  def("print", print);
  def("global", g); // Espruino's global object (jswrap_interactive.c `global`)
  // Espruino's own Math.clip(x, min, max) and Math.wrap(x, max) (jswrap_math.c)
  Object.defineProperty(g.Math, "clip", {
    value: (x: number, a: number, b: number) => (x < a ? a : x > b ? b : +x),
    writable: true,
    configurable: true,
    enumerable: false,
  });
  Object.defineProperty(g.Math, "wrap", {
    value: (x: number, m: number) => {
      const r = x - Math.floor(x / m) * m;
      return r;
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
  def("console", { log: print, info: print, warn: print, error: print, debug: print });
}

/** Helpers the source transform (transform.ts) routes Espruino-specific semantics through. */
export function installTransformHelpers(def: Define): void {
  // jsvGetBool (jsvar.c): a Pin is integer-ish, true only when its index is not 0.
  def("__espruinoBool", (v: any) => (isPin(v) ? +v !== 0 : v));
  // jsvGetTypeOf (jsvar.c): a Pin is numeric, so typeof gives "number".
  def("__espruinoTypeof", (v: any) => (isPin(v) ? "number" : typeof v));
  // jsvGetInteger (jsvar.c): bitwise operands become (JsVarInt)(long long)x; a double beyond ±2^63 does not
  // fit the long long and gives 0 (x86 Linux build, as the facts page measured: 1e20|0 is 0; V8 gives 1661992960).
  def("__espruinoInt", (x: any) => (typeof x === "number" && (x >= INT64 || x <= -INT64) ? 0 : x));
}

/** E.hwRand(): the hardware's random numbers, or on the Linux build a sequence that repeats. */
export class HwRand {
  private state = 1;
  constructor(private readonly repeats: boolean) {}
  next(): number {
    if (this.repeats) {
      this.state = (Math.imul(this.state, 1103515245) + 12345) | 0;
      return this.state;
    }
    return randomBytes(4).readInt32LE(0);
  }
}

/**
 * reset, load, save, echo, btoa, JSON, atob, require (`modules`: Storage, Flash, crypto where the board has it),
 * process and E.
 */
export function installInterpreter(core: DeviceCore, def: Define, modules: Record<string, any>, hwRand: HwRand): void {
  const board = core.board;
  def("reset", () => {
    core.requestBoot("reset");
  });
  def("load", (file?: string) => {
    core.requestBoot("load", file);
  });
  def("save", () => {
    core.consoleWrite("save() is not emulated: use Storage (.bootcde)\r\n");
  });
  def("echo", (on: boolean) => {
    core.setEcho(!!on);
  });
  def("btoa", (s: string) => Buffer.from(String(s), "latin1").toString("base64"));
  // JSON as the device parses it (json.ts); JSON.stringify's argument and result are live at once, so their
  // blocks (those not already held by the program) are an allocation that must fit, as on the device.
  const J = core.realm.global.JSON;
  const realStringify = J.stringify;
  Object.defineProperty(J, "parse", {
    value: function parse(text: unknown) {
      return espruinoJsonParse(String(text), core.jsonRealm());
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
  Object.defineProperty(J, "stringify", {
    value: function stringify(v: unknown, r?: unknown, sp?: unknown) {
      const out = realStringify.call(J, v, r, sp);
      if (typeof out === "string" && out.length > 32) core.alloc(core.transientBlocks(v) + stringBlocks(out.length, core.layout));
      return out;
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
  def("atob", (s: string) => Buffer.from(String(s), "base64").toString("latin1"));
  for (const k in modules) core.realm.builtins.add(modules[k]);
  def("require", (name: string) => {
    if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
    throw new core.realm.intrinsics.Error("Module " + JSON.stringify(String(name)) + " not found");
  });
  const env = {
    VERSION: ESPRUINO_VERSION,
    GIT_COMMIT: "emulated",
    BOARD: board.envBoard,
    RAM: 0,
    FLASH: 0,
    STORAGE: board.storageBytes,
    SERIAL: "emulated",
    CONSOLE: board.consoleDevice,
    MODULES: board.hashes ? "Storage,Flash,crypto" : "Storage,Flash",
    EXPTR: 0,
  };
  def("process", {
    version: ESPRUINO_VERSION,
    env: core.ctxValue(env),
    memory: () => {
      const used = core.measureHeap();
      const m: Record<string, number> = {
        free: Math.max(0, core.totalVars - used),
        usage: used,
        total: core.totalVars,
        history: 0,
        gc: 0,
        gctime: 0,
        blocksize: board.blockBytes,
      };
      if (!isLinux(board)) m.flash_code_start = board.storageStart; // jswrap_process.c, ARM only
      return core.ctxValue(m);
    },
    on: () => {},
  });
  const events = core.events;
  const E = {
    getConsole: () => (core.consoleName === "null" ? undefined : core.consoleName),
    setConsole: (d: unknown, opts?: { force?: boolean }) => core.setConsole(d, !!(opts && opts.force)),
    hwRand: () => hwRand.next(),
    on: (ev: string, cb: Function) => {
      if (!events.has(ev)) events.set(ev, []);
      events.get(ev)!.push(cb);
    },
    removeAllListeners: (ev?: string) => {
      if (ev === undefined) events.clear();
      else events.delete(ev);
    },
    emit: (ev: string, a?: unknown) => {
      for (const h of events.get(ev) || []) h(a);
    },
    getSizeOf: (v: unknown) => countBlocks([v], core.walkOptions(false)),
    // E.toArrayBuffer(str): an ArrayBuffer on the string itself (jswrap_espruino.c, no copy): 1 block beside the
    // string's own (1 for a string read from Storage, a native/flash string)
    toArrayBuffer: (str: unknown) => {
      const s = String(str);
      core.alloc(1);
      const ab = new core.realm.intrinsics.ArrayBuffer(s.length);
      new core.realm.intrinsics.Uint8Array(ab).set(fromLatin1(s));
      core.backing.set(ab, core.flashStrings.has(s) ? 1 : stringBlocks(s.length, core.layout));
      return ab;
    },
    reboot: () => {
      core.requestBoot("load");
    },
    setRTCPrescaler: board.rtc === "stm32" ? () => {} : undefined,
    getRTCPrescaler: board.rtc === "stm32" ? () => 32768 : undefined,
  };
  if (board.rtc !== "stm32") {
    delete (E as any).setRTCPrescaler;
    delete (E as any).getRTCPrescaler;
  }
  def("E", E);
}
