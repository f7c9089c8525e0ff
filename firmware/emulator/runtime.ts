// The emulated Espruino board: interpreter realm, console/REPL, serial devices and Loopbacks, pins and the
// button, Storage on a flash image, crypto per board, the virtual RTC, a variable cap, boot sequence.
import { createCipheriv, createDecipheriv, createHash, pbkdf2Sync, randomBytes } from "node:crypto";
import { isLinux, type BoardProfile } from "./boards.ts";
import { VirtualClock } from "./clock.ts";
import { bufferBlocks, countBlocks, flatBlocks, layoutOf, nameBlocks, SourceIndex, stringBlocks, type HeapWalkOptions, type Layout } from "./heap.ts";
import { createRealm, Realm } from "./sandbox.ts";
import { Flash, PowerCut, Storage, StorageError, fromLatin1, latin1, type MovedFile } from "./storage.ts";
import { espruinoSource } from "./transform.ts";
import { espruinoJsonParse, type JsonRealm } from "./json.ts";
import { Repl } from "./repl.ts";
import { formatValue } from "./format.ts";

export const ESPRUINO_VERSION = "2v29";
/** Marks the emulator's Pin objects (value: the pin's key in Device.pins). */
const PIN_KEY = Symbol("hwtotp.pin");
const INT64 = 9223372036854775808;

/** Raised out of program code when the variable cap is exceeded; not catchable by the program in spirit. */
export class OutOfMemory extends Error {
  constructor() {
    super("Out of Memory!");
  }
}

/**
 * The interpreter read garbage (a compaction moved code it was running from memory-mapped flash): raised out of
 * the Storage call that compacted, and out of every API call until the task ends; the device then runs nothing
 * more until reset.
 */
export class DeviceFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeviceFault";
  }
}

/** Built-in libraries and classes the device adds to its root when a program first names them (measured on Linux). */
const LIBRARIES = ["JSON", "Math", "E", "process", "Date", "Number", "String", "Boolean", "Array", "Error", "TypeError",
  "SyntaxError", "ReferenceError", "InternalError", "RegExp", "Promise", "ArrayBuffer", "DataView", "Uint8Array", "Int8Array",
  "Uint8ClampedArray", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array", "Float32Array", "Float64Array", "console"];

type DataHandler = (data: string) => void;

export class Port {
  handlers: DataHandler[] = [];
  /** The object the program sees (USB, Bluetooth, LoopbackA…). */
  api: any;
  constructor(readonly dev: Device, readonly name: string, readonly sink: (s: string) => void) {
    const self = this;
    this.api = {
      on(ev: string, cb: DataHandler) { if (ev === "data" && typeof cb === "function") self.handlers.push(cb); },
      removeAllListeners(ev?: string) { if (ev === undefined || ev === "data") self.handlers = []; },
      removeListener(ev: string, cb: DataHandler) { if (ev === "data") self.handlers = self.handlers.filter((h) => h !== cb); },
      write() { for (let i = 0; i < arguments.length; i++) self.dev.portWrite(self, arguments[i]); },
      print(s: unknown) { self.dev.portWrite(self, String(s)); },
      println(s: unknown) { self.dev.portWrite(self, String(s) + "\r\n"); },
      setConsole(force?: boolean) { self.dev.setConsole(self.name, !!force); },
      setup() {},
      toString() { return self.name; },
    };
  }
  /** Characters arriving at the device on this port. */
  input(s: string): void {
    if (this.dev.consoleName === this.name) this.dev.repl.feed(s);
    else if (this.handlers.length) {
      const hs = this.handlers.slice();
      this.dev.task(() => { for (const h of hs) h(s); });
    }
  }
}

export interface Watch {
  id: number;
  fn: (e: { state: boolean; time: number; lastTime: number }) => void;
  pin: string;
  repeat: boolean;
  edge: string;
  /** Debounce in ms (0: none). */
  debounce: number;
}

export interface DeviceOptions {
  board: BoardProfile;
  flash: Flash;
  clock: VirtualClock;
  /** Host side of the console port (device → host). */
  toHost: (s: string) => void;
  vars?: number;
  /** "always": full heap walk after every task; "sample" (default): every 64 tasks and on process.memory(). */
  heapCheck?: "always" | "sample" | "off";
  persist: () => void;
  log?: (s: string) => void;
}

export class Device {
  board: BoardProfile;
  flash: Flash;
  storage: Storage;
  clock: VirtualClock;
  realm!: Realm;
  ports = new Map<string, Port>();
  consoleName: string;
  repl: Repl;
  pins = new Map<string, { state: boolean; api: any }>();
  watches: Watch[] = [];
  nextWatch = 1;
  events = new Map<string, Function[]>();
  flashStrings = new Set<string>();
  /** Block geometry of the board's interpreter. */
  layout: Layout;
  /** Scripts compiled since boot (where each function's parameters, locals and nesting are read from). */
  sources = new SourceIndex();
  /** ArrayBuffers the API made (flat strings on the device). */
  apiBuffers = new WeakSet<object>();
  /** ArrayBuffers over an existing string (E.toArrayBuffer): the blocks of that string. */
  backing = new WeakMap<object, number>();
  /** Built-in library/class objects the program referenced (the device adds them to its root then). */
  touched = new Set<string>();
  /** Built-in classes whose prototype the program used (new, instanceof): prototype and constructor names. */
  protoUsed = new Set<string>();
  totalVars: number;
  usage = 0;
  /** Highest usage + allocation in progress seen since boot. */
  peak = 0;
  tasks = 0;
  oom = false;
  /**
   * Set when a compaction moved a file whose code was running inside a loop on a board with memory-mapped
   * flash (see onCompacted): the device's interpreter then reads garbage. Modelled as a crash: the program gets
   * no more events, its output is dropped, until reset or power-up.
   */
  fault: null | { reason: string; file: string } = null;
  /** Debugging: when set, the next heap walks add their blocks per category here. */
  heapTally: Record<string, number> | null = null;
  /** Storage files whose code ran since boot (their functions may point into them). */
  running: string[] = [];
  on = false;
  booting = false;
  pending: null | { kind: "reset" | "load"; file?: string } = null;
  private hwRandState = 1;
  private lastButtonTime = 0;
  private echo = true;

  constructor(readonly opts: DeviceOptions) {
    this.board = opts.board;
    this.flash = opts.flash;
    this.storage = new Storage(opts.flash);
    this.storage.onCompact = (moved) => this.onCompacted(moved);
    this.clock = opts.clock;
    this.totalVars = opts.vars || opts.board.vars;
    this.layout = layoutOf(opts.board.layout);
    this.consoleName = opts.board.consoleDevice;
    this.repl = new Repl(this);
    this.clock.runTask = (fn) => this.task(fn);
    const host = new Port(this, opts.board.consoleDevice, (s) => opts.toHost(s));
    this.ports.set(host.name, host);
    const a = new Port(this, "LoopbackA", (s) => this.ports.get("LoopbackB")!.input(s));
    const b = new Port(this, "LoopbackB", (s) => this.ports.get("LoopbackA")!.input(s));
    this.ports.set(a.name, a);
    this.ports.set(b.name, b);
    this.ports.set("Serial1", new Port(this, "Serial1", () => {}));
    for (const p of [opts.board.button, ...opts.board.leds]) if (p) this.pins.set(p, { state: false, api: null });
  }

  get hostPort(): Port {
    return this.ports.get(this.board.consoleDevice)!;
  }

  log(s: string): void {
    if (this.opts.log) this.opts.log(s);
  }

  // ---------------------------------------------------------------- output
  portWrite(p: Port, v: unknown): void {
    if (this.fault) return; // a crashed device says nothing
    let s: string;
    if (typeof v === "string") s = v;
    else if (typeof v === "number") s = String.fromCharCode(v & 255);
    else if (v && (ArrayBuffer.isView(v) || Array.isArray(v))) s = latin1(Uint8Array.from(v as ArrayLike<number>, (x) => x & 255));
    else s = String(v);
    this.inFlight(s.length);
    if (!this.board.utf8) {
      let ok = true;
      for (let i = 0; i < s.length && ok; i++) ok = s.charCodeAt(i) < 256;
      if (!ok) s = s.replace(/[^\x00-\xff]/g, (c) => String.fromCharCode(c.charCodeAt(0) & 255));
    } else s = Buffer.from(s, "utf8").toString("latin1");
    p.sink(s);
  }

  consoleWrite(s: string): void {
    const p = this.ports.get(this.consoleName);
    if (p) p.sink(s);
  }

  setConsole(dev: unknown, force: boolean): void {
    void force;
    if (dev === null || dev === undefined) {
      this.consoleName = "null";
      return;
    }
    const name = typeof dev === "string" ? dev : typeof dev === "object" && dev && typeof (dev as any).toString === "function" ? String((dev as any).toString()) : "";
    if (!this.ports.has(name)) throw new Error("Expecting a device name, got " + JSON.stringify(name));
    this.consoleName = name;
  }

  // ---------------------------------------------------------------- tasks and memory
  /** Runs one event-loop task of the device (a data event, timer, watch), catching what Espruino would report. */
  task(fn: () => void): void {
    if (!this.on || this.fault) return;
    try {
      fn();
    } catch (e) {
      this.reportError(e);
    }
    this.afterTask();
  }

  afterTask(): void {
    this.tasks++;
    const mode = this.opts.heapCheck || "sample";
    if (mode === "always" || (mode === "sample" && this.tasks % 64 === 0)) this.measureHeap();
    this.oom = false;
    if (this.usage > this.totalVars) {
      this.consoleWrite("ERROR: Out of Memory!\r\n");
      this.log("out of memory: " + this.usage + " > " + this.totalVars);
    }
    if (this.pending) {
      const p = this.pending;
      this.pending = null;
      if (p.kind === "reset") this.boot({ kind: "reset", banner: true });
      else this.boot({ kind: "load", file: p.file });
    }
  }

  reportError(e: unknown): void {
    if (e instanceof PowerCut) throw e;
    if (this.fault) return;
    if (e instanceof OutOfMemory) {
      this.log("out of memory (execution interrupted): " + this.usage + " in use of " + this.totalVars);
      this.consoleWrite("ERROR: Out of Memory!\r\nExecution Interrupted\r\n");
      return;
    }
    const err = e as any;
    if (this.realm && err instanceof this.realm.intrinsics.Error) this.consoleWrite("Uncaught " + String(err) + "\r\n");
    else {
      const name = err && typeof err === "object" ? (err.name === undefined ? "Error" : err.name) : "";
      const msg = err && typeof err === "object" ? err.message : JSON.stringify(e);
      this.consoleWrite("Uncaught " + (name ? name + ": " : "") + msg + "\r\n");
    }
    this.log("uncaught: " + (err && err.stack ? err.stack : String(e)));
  }

  private jsonHelpers: JsonRealm | null = null;

  /** What json.ts needs from the realm: its constructors, its SyntaxError, and the crashing prototype. */
  jsonRealm(): JsonRealm {
    if (this.jsonHelpers && this.jsonHelpers.newObject === this.jsonFor) return this.jsonHelpers;
    const i = this.realm.intrinsics;
    const dev = this;
    const crash = (what: string): never => {
      return dev.crash("ASSERT(jsvHasChildren(parent)) FAILED AT src/jsvar.c: " + what + " through a __proto__ that is not an object");
    };
    const poison = new Proxy(Object.create(null), {
      get: (_t, k) => (typeof k === "symbol" || k === "toJSON" ? undefined : crash("a lookup of " + String(k))),
      set: (_t, k) => crash("setting " + String(k)),
      has: (_t, k) => (typeof k === "symbol" ? false : crash("a lookup of " + String(k))),
    });
    this.realm.builtins.add(poison);
    const newObject = (): any => new i.Object();
    this.jsonFor = newObject;
    this.jsonHelpers = { newObject: newObject, newArray: () => new i.Array(), syntaxError: (m: string) => new i.SyntaxError(m), poison: poison };
    return this.jsonHelpers;
  }

  private jsonFor: unknown = null;

  /** The device crashed (an assertion, or garbage read as code): it runs nothing more until reset. */
  crash(reason: string): never {
    if (!this.fault) {
      this.fault = { reason: reason, file: "" };
      this.log("fault: " + reason);
    }
    throw new DeviceFault(this.fault.reason);
  }

  /** Blocks of `v`'s graph that the last heap walk did not find held by the program (a task's temporaries). */
  transientBlocks(v: unknown): number {
    const o = this.walkOptions(false);
    o.skip = this.lastSeen || undefined;
    return countBlocks([v], o);
  }

  /** Objects the last full heap walk counted. */
  lastSeen: WeakSet<object> | null = null;

  /** Options for a heap walk over this device's realm. */
  walkOptions(closures: boolean): HeapWalkOptions {
    const i = this.realm.intrinsics;
    return {
      builtins: this.realm.builtins, flashStrings: this.flashStrings, closures: closures, functionProto: this.realm.functionProto,
      layout: this.layout, sources: this.sources, apiBuffers: this.apiBuffers, backing: this.backing,
      defaultProtos: [i.Object.prototype, i.Array.prototype, Object.prototype, Array.prototype],
    };
  }

  /**
   * Full estimate of variables in use, as process.memory().usage counts them: the interpreter's own root
   * (board.baseVars), the built-in objects the program made the interpreter instantiate, the program's globals,
   * the event listeners, timers and watches (with the objects Espruino keeps for them) and everything they reach,
   * closure scopes included (heap.ts).
   */
  measureHeap(): number {
    if (!this.realm) return 0;
    const L = this.layout;
    const g = this.realm.global;
    let fixed = this.board.baseVars;
    // Built-in libraries and classes the program referenced: a root name and the object; a prototype it used.
    for (const k of this.touched) fixed += nameBlocks(k.length, L) + 1;
    for (const k of this.protoUsed) fixed += nameBlocks(9, L) + 1 + nameBlocks(11, L);
    // Devices the program used (USB, LoopbackA…): an object in the root with a __proto__ to the Serial class.
    let devices = 0;
    for (const p of this.ports.values()) {
      if (!this.touched.has(p.name) && !p.handlers.length && this.consoleName !== p.name) continue;
      if (!this.touched.has(p.name)) fixed += nameBlocks(p.name.length, L) + 1;
      fixed += nameBlocks(9, L);
      devices++;
      if (p.handlers.length) fixed += nameBlocks(7, L) + 1 + p.handlers.length; // "#ondata": [fn, …]
    }
    if (devices) fixed += nameBlocks(6, L) + 1 + nameBlocks(9, L) + 1 + nameBlocks(11, L); // Serial and its prototype
    // E.on(…) listeners: "#on<event>" names on E.
    for (const [ev, hs] of this.events) if (hs.length) fixed += nameBlocks(3 + ev.length, L) + 1 + hs.length;
    // Timers (jswrap_interactive.c: {time, intr, cb, args}) and watches (jswrap_io.c: {pin, recur, debounce, edge, cb, state}).
    for (const t of this.clock.timerList()) fixed += 2 + nameBlocks(4, L) + 1 + (t.interval ? nameBlocks(4, L) + 1 : 0) + nameBlocks(2, L) + (t.args ? nameBlocks(4, L) + 1 + t.args : 0);
    for (const w of this.watches) {
      fixed += 2 + nameBlocks(3, L) + 1 + (w.repeat ? nameBlocks(5, L) + 1 : 0) + (w.debounce > 0 ? nameBlocks(8, L) + 1 : 0) + (w.edge !== "both" ? nameBlocks(4, L) : 0) + nameBlocks(2, L) + nameBlocks(5, L) + 1;
    }
    // The program's globals are children of the root: a name each and its value.
    const root: Record<string, unknown> = {};
    for (const k of Object.getOwnPropertyNames(g)) {
      if (this.realm.baseline.has(k)) continue;
      try {
        const d = Object.getOwnPropertyDescriptor(g, k);
        root[k] = d && "value" in d ? d.value : undefined;
      } catch (e) {
        /* accessor */
      }
    }
    const roots: unknown[] = [root];
    for (const p of this.ports.values()) roots.push(...p.handlers);
    for (const w of this.watches) roots.push(w.fn);
    for (const hs of this.events.values()) roots.push(...hs);
    for (const t of this.clock.timerList()) roots.push(t.user || t.fn);
    const o = this.walkOptions(true);
    if (this.heapTally) o.tally = this.heapTally;
    o.seenOut = new WeakSet();
    this.lastSeen = o.seenOut;
    this.usage = fixed + countBlocks(roots, o) - 1; // the root object is in baseVars
    if (this.heapTally) this.heapTally.fixed = (this.heapTally.fixed || 0) + fixed;
    return this.usage;
  }

  /** An allocation of `chars` characters is about to happen: fail like the device when it does not fit. */
  inFlight(chars: number): void {
    this.alloc(stringBlocks(chars, this.layout));
  }

  /**
   * An allocation of `blocks` through the API (a reply, a hash, a buffer read from Storage): throws
   * "Out of Memory!" when it does not fit beside what the program holds. Espruino frees temporaries by reference
   * count at once, and V8 gives no cheap view of a running task's live temporaries, so only this one allocation
   * is added to the last measured usage: a task's true peak is somewhat higher.
   */
  alloc(blocks: number): void {
    if (this.fault) throw new DeviceFault(this.fault.reason);
    if (this.oom) throw new OutOfMemory(); // execution is interrupted: a catch in the program does not resume it
    const now = this.usage + blocks;
    if (now > this.peak) this.peak = now;
    if (now > this.totalVars) {
      this.oom = true;
      throw new OutOfMemory();
    }
  }

  // ---------------------------------------------------------------- boot
  /**
   * Boots as jsiInit/jsiSemiInit/jsiSoftInit and jsfLoadBootCodeFromFlash (src/jsinteractive.c, src/jsflash.c) do:
   *  - "power": power-up or the reset button (first boot). The board reads its button first (targets/stm32 and
   *    nrf5x main.c: jsiInit(!buttonState)): held, it loads no saved state (.varimg) and no .bootcde;
   *  - "reset": reset() at the REPL (no saved state, no .bootcde); "load": load() (all) or load(file).
   * Every boot then runs .bootPowerOn (first boot only), .boot0–.boot3, then .bootrst if it exists, else
   * .bootcde unless this boot loads no code; on Bangle.js a held BTN1 at first boot skips .bootPowerOn and
   * .boot0–.boot3 too. Then E.on("init") handlers and onInit(); load(file) runs the file after them.
   * .varimg (save()) is not emulated: a board with one would load that state first.
   */
  boot(o: { kind: "power" | "reset" | "load"; file?: string; banner?: boolean }): void {
    const first = o.kind === "power";
    const held = first && this.buttonHeld();
    const autoLoad = o.kind === "power" ? !held : o.kind === "load" && !o.file;
    this.on = true;
    this.booting = true;
    this.clock.clearAll();
    this.watches = [];
    this.events = new Map();
    this.flashStrings = new Set();
    this.sources = new SourceIndex();
    this.apiBuffers = new WeakSet();
    this.backing = new WeakMap();
    this.touched = new Set();
    this.protoUsed = new Set();
    this.fault = null;
    this.running = [];
    for (const p of this.ports.values()) p.handlers = [];
    this.consoleName = this.board.consoleDevice;
    this.echo = true;
    this.repl.reset();
    this.realm = createRealm({
      construct: (name) => this.protoUsed.add(name),
      badProto: (o) => Object.setPrototypeOf(o, this.jsonRealm().poison),
    });
    this.installApi();
    this.realm.adopt();
    this.trackBuiltins();
    this.usage = 0;
    this.peak = 0;
    if (o.banner) this.consoleWrite(this.banner());
    const skipBoot = this.board.bangle && held;
    const run = (f: string): void => {
      if (this.storage.find(f)) this.runFile(f);
    };
    if (first && !skipBoot) run(".bootPowerOn");
    if (!skipBoot) for (const f of [".boot0", ".boot1", ".boot2", ".boot3"]) run(f);
    if (this.storage.find(".bootrst")) run(".bootrst");
    else if (autoLoad) run(".bootcde");
    for (const h of this.events.get("init") || []) this.safeCall(h);
    if (typeof this.realm.global.onInit === "function") this.safeCall(this.realm.global.onInit);
    if (o.file) run(o.file);
    this.booting = false;
    this.measureHeap();
    if (this.consoleName === this.board.consoleDevice && o.kind === "reset") this.consoleWrite(">");
  }

  /** Records which built-in libraries/classes and devices the program names (heap estimate: measureHeap). */
  private trackBuiltins(): void {
    const g = this.realm.global;
    const dev = this;
    for (const name of LIBRARIES.concat(Array.from(this.ports.keys()))) {
      const d = Object.getOwnPropertyDescriptor(g, name);
      if (!d || !("value" in d)) continue;
      let v = d.value;
      Object.defineProperty(g, name, {
        configurable: true, enumerable: d.enumerable,
        get() {
          dev.touched.add(name);
          return v;
        },
        set(x) {
          v = x;
        },
      });
    }
  }

  /**
   * A compaction rewrote files at other addresses. Espruino 2v29 updates every native/flash string that points
   * into a moved file (jsvar.c jsvUpdateMemoryAddress, since 2v08) and re-reads the running lexer's pointer after
   * every function call (jsparse.c jspeFunctionCall, since 2v20), but a loop keeps saved lexer positions
   * (JslCharPos in jspeStatementFor/While) whose string iterators hold raw pointers into memory-mapped flash: when
   * the loop seeks back there, it reads whatever now lies at the old address. So on STM32/nRF52 boards, moving a
   * file while code from it runs inside a loop garbles it; flash strings (Linux, Bangle.js 2's SPI flash) reload
   * through the updated pointer and survive. Modelled as a crash (fault), decided from the V8 stack: a frame of a
   * moved file inside a loop of the function running there.
   */
  onCompacted(moved: MovedFile[]): void {
    if (!this.board.memoryMappedFlash || this.fault || this.booting) return;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 500;
    const holder: { stack?: string } = {};
    Error.captureStackTrace(holder);
    Error.stackTraceLimit = limit;
    const frames = (holder.stack || "").split("\n").map((l) => /\(?([^\s()]+):(\d+):(\d+)\)?\s*$/.exec(l)).filter((m) => m) as RegExpExecArray[];
    for (const m of moved) {
      if (this.running.indexOf(m.name) < 0) continue;
      const f = frames.find((x) => x[1] === m.name && this.sources.inLoop(m.name, +x[2], +x[3]));
      if (f) {
        this.fault = { reason: "compaction moved " + m.name + " (0x" + m.from.toString(16) + " -> 0x" + m.to.toString(16) + ") while a loop in it ran (line " + f[2] + ")", file: m.name };
        this.log("fault: " + this.fault.reason);
        return;
      }
    }
  }

  buttonHeld(): boolean {
    const b = this.board.button;
    return !!(b && this.pins.get(b)!.state);
  }

  banner(): string {
    return "\r\n ____                 _\r\n|  __|___ ___ ___ _ _|_|___ ___\r\n|  __|_ -| . |  _| | | |   | . |\r\n|____|___|  _|_| |___|_|_|_|___|\r\n         |_| espruino.com\r\n " +
      ESPRUINO_VERSION + " (c) 2025 G.Williams (hwtotp emulator, board " + this.board.envBoard + ")\r\n\r\n";
  }

  safeCall(fn: Function): void {
    try {
      fn();
    } catch (e) {
      this.reportError(e);
    }
  }

  runFile(name: string): void {
    const bytes = this.storage.readBytes(name);
    if (!bytes) return;
    const src = latin1(bytes);
    this.flashStrings.add(src);
    if (this.running.indexOf(name) < 0) this.running.push(name);
    this.evalSource(src, name, true, true);
  }

  /** Runs source as the interpreter would; errors are reported on the console. `flash`: code read from Storage. */
  evalSource(src: string, filename: string, report: boolean, flash = false): unknown {
    try {
      const code = this.compile(src);
      this.sources.add(code, flash, flash ? filename : undefined);
      return this.realm.run(code, filename);
    } catch (e) {
      if (!report) throw e;
      this.reportError(e);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- button
  /**
   * The button changes state now (device time). Watches on it get Espruino's event object {state, time, lastTime}
   * (jsinteractive.c): time of this change and of the pin's previous change, whatever edge the watch filters.
   */
  setButton(state: boolean): void {
    const b = this.board.button;
    if (!b) throw new Error("Board " + this.board.name + " has no button.");
    const pin = this.pins.get(b)!;
    if (pin.state === state) return;
    pin.state = state;
    const time = this.clock.now();
    const lastTime = this.lastButtonTime || time;
    this.lastButtonTime = time;
    if (!this.on) return;
    for (const w of this.watches.slice()) {
      if (w.pin !== b) continue;
      if (w.edge === "rising" && !state) continue;
      if (w.edge === "falling" && state) continue;
      if (!w.repeat) this.watches = this.watches.filter((x) => x !== w);
      const ev = this.ctxValue({ state: state, time: time, lastTime: lastTime });
      this.task(() => w.fn(ev));
    }
  }

  // ---------------------------------------------------------------- the API the program sees
  private ctxValue(v: unknown): any {
    if (v === undefined) return undefined;
    return this.realm.intrinsics.JSON.parse(JSON.stringify(v));
  }

  private ctxBuffer(bytes: Uint8Array): ArrayBuffer {
    this.alloc(1 + flatBlocks(bytes.length, this.layout));
    const ab = new this.realm.intrinsics.ArrayBuffer(bytes.length);
    new this.realm.intrinsics.Uint8Array(ab).set(bytes);
    this.apiBuffers.add(ab);
    return ab;
  }

  private toBytes(d: unknown): Uint8Array {
    if (typeof d === "string") return fromLatin1(d);
    if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
    if (Object.prototype.toString.call(d) === "[object ArrayBuffer]") return new Uint8Array(d as ArrayBuffer).slice();
    if (Array.isArray(d)) return Uint8Array.from(d, (x) => +x & 255);
    return fromLatin1(String(d));
  }

  private storageCall<T>(fn: () => T): T {
    if (this.fault) throw new DeviceFault(this.fault.reason);
    let r: T;
    try {
      r = fn();
    } catch (e) {
      if (e instanceof PowerCut) throw e;
      if (e instanceof StorageError) throw new (this.realm.intrinsics.Error)(e.message);
      throw e;
    } finally {
      this.opts.persist();
    }
    const fault = this.fault as Device["fault"]; // set by a compaction inside fn
    if (fault) throw new DeviceFault(fault.reason);
    return r;
  }

  private storageApi(): any {
    const dev = this;
    const st = this.storage;
    const readStr = (name: string, offset?: number, length?: number): string | undefined => {
      const b = st.readBytes(String(name), offset, length);
      if (!b) return undefined;
      const s = latin1(b);
      dev.flashStrings.add(s);
      dev.alloc(1);
      return s;
    };
    return {
      read: (name: string, offset?: number, length?: number) => readStr(name, offset, length),
      readJSON: (name: string, noExceptions?: boolean) => {
        const s = readStr(name);
        if (s === undefined) return undefined;
        try {
          const v = espruinoJsonParse(s, dev.jsonRealm(), true); // jswrap_json_parse_liberal: unquoted keys too
          dev.alloc(countBlocks([v], dev.walkOptions(false)));
          return v;
        } catch (e) {
          if (e instanceof OutOfMemory || e instanceof DeviceFault) throw e;
          if (noExceptions) return undefined;
          throw e;
        }
      },
      // jswrap_storage_readArrayBuffer: an ArrayBuffer over the file's native/flash string, no copy (2 blocks)
      readArrayBuffer: (name: string) => {
        const b = st.readBytes(String(name));
        if (!b) return undefined;
        dev.alloc(2);
        const ab = new dev.realm.intrinsics.ArrayBuffer(b.length);
        new dev.realm.intrinsics.Uint8Array(ab).set(b);
        dev.backing.set(ab, 1);
        return ab;
      },
      write: (name: string, data: unknown, offset?: number, size?: number) => dev.storageCall(() => {
        const bytes = dev.toBytes(data);
        return st.write(String(name), bytes, offset, size);
      }),
      writeJSON: (name: string, data: unknown) => dev.storageCall(() => {
        const s = dev.realm.intrinsics.JSON.stringify(data);
        dev.inFlight(s.length);
        return st.write(String(name), fromLatin1(s));
      }),
      erase: (name: string) => dev.storageCall(() => st.erase(String(name))),
      eraseAll: () => dev.storageCall(() => st.eraseAll()),
      compact: () => {
        dev.storageCall(() => st.compact());
      },
      list: (re?: unknown) => {
        let names = st.list();
        if (re !== undefined && re !== null) {
          names = names.filter((n) => (typeof re === "string" ? n.indexOf(re) >= 0 : (re as RegExp).test(n)));
        }
        return dev.ctxValue(names);
      },
      getFree: () => st.getFree(),
      getStats: () => dev.ctxValue(st.getStats()),
      hash: undefined,
    };
  }

  /**
   * require("Flash") (src/jswrap_flash.c) over the Storage area, at the board's addresses (storageStart): read,
   * write (jshFlashWriteAligned: bits only clear; each 256-byte chunk is one flash step, so a power cut can land
   * inside), erasePage, getPage, getFree (the Linux builds give their whole fake flash, targets/linux; a board
   * gives its free pages outside Storage and firmware, which the emulator does not model: []). The flash outside
   * Storage (the interpreter's own firmware on a board) is not modelled: reads there give 0xFF; writes and erases
   * there throw, since on a board they would corrupt the firmware.
   */
  private flashApi(): any {
    const dev = this;
    const fl = this.storage.flash;
    const b = this.board;
    const at = (addr: unknown, len: number, what: string): number => {
      const o = Number(addr) - b.storageStart;
      if (!(o >= 0 && o + len <= fl.bytes.length)) throw new (dev.realm.intrinsics.Error)("emulator: Flash." + what + " outside Storage (0x" + Number(addr).toString(16) + ")");
      return o;
    };
    return {
      read: (length: number, addr: number) => {
        const n = length | 0;
        if (n <= 0) return undefined;
        dev.alloc(2 + stringBlocks(n, dev.layout));
        const out = new dev.realm.intrinsics.Uint8Array(n).fill(0xff);
        const o = (addr | 0) - b.storageStart;
        for (let i = 0; i < n; i++) if (o + i >= 0 && o + i < fl.bytes.length) out[i] = fl.bytes[o + i];
        return out;
      },
      write: (data: unknown, addr: number) => dev.storageCall(() => {
        const bytes = dev.toBytes(data);
        if (bytes.length) fl.program(at(addr, bytes.length, "write"), bytes);
      }),
      erasePage: (addr: number) => dev.storageCall(() => fl.erasePage(Math.floor(at(addr, 1, "erasePage") / fl.pageBytes))),
      getPage: (addr: number) => {
        const o = Number(addr) - b.storageStart;
        if (!(o >= 0 && o < fl.bytes.length)) return undefined;
        return dev.ctxValue({ addr: b.storageStart + o - (o % fl.pageBytes), length: fl.pageBytes });
      },
      getFree: () => dev.ctxValue(isLinux(b) ? [{ addr: b.storageStart, length: fl.bytes.length }] : []),
    };
  }

  /** jsError: the device prints "ERROR: …" on its console and carries on (no exception). */
  private jsError(msg: string): void {
    this.consoleWrite("ERROR: " + msg + "\r\n");
  }

  /**
   * require("crypto") (libs/crypto/jswrap_crypto.c): SHA1 and the board's SHA256 (+SHA224) / SHA512 (+SHA384),
   * PBKDF2 where built with TLS, AES where built with AES or TLS. Every result is an ArrayBuffer. Like the device,
   * the functions are not enumerable (Object.keys(require("crypto")) is []).
   */
  private cryptoApi(): any {
    const dev = this;
    const api: any = {};
    const def = (k: string, v: unknown): void => {
      Object.defineProperty(api, k, { value: v, writable: true, configurable: true, enumerable: false });
    };
    const hashes = (this.board.hashes || []).slice();
    if (hashes.indexOf("SHA256") >= 0) hashes.push("SHA224");
    if (hashes.indexOf("SHA512") >= 0) hashes.push("SHA384");
    for (const h of hashes) {
      const algo = h.toLowerCase();
      def(h, (data: unknown) => {
        const digest = createHash(algo).update(dev.toBytes(data)).digest();
        return dev.ctxBuffer(new Uint8Array(digest));
      });
    }
    if (this.board.pbkdf2) {
      // jswrap_crypto_PBKDF2: keySize in 32-bit words (default 4, also for <= 0), iterations (default and minimum 1),
      // hasher by name (default SHA1; a name the board lacks throws "Unknown Hasher"); options that are not an
      // object only print an error and the defaults apply.
      def("PBKDF2", function (pass: unknown, salt: unknown, options?: any) {
        let keySize = 4;
        let iterations = 1;
        let hasher = "SHA1";
        if (options !== null && typeof options === "object" && !Array.isArray(options)) {
          keySize = Math.trunc(+options.keySize || 0);
          if (!(keySize > 0)) keySize = 4;
          iterations = Math.trunc(+options.iterations || 0);
          if (!(iterations >= 1)) iterations = 1;
          if (options.hasher !== undefined) {
            hasher = String(options.hasher);
            if (hashes.indexOf(hasher) < 0) throw new (dev.realm.intrinsics.Error)("Unknown Hasher " + JSON.stringify(hasher));
          }
        } else if (options !== undefined) dev.jsError("Options should be an object or undefined, got " + typeName(options));
        const key = pbkdf2Sync(dev.toBytes(pass), dev.toBytes(salt), iterations, keySize * 4, hasher.toLowerCase());
        return dev.ctxBuffer(new Uint8Array(key));
      });
    }
    if (this.board.aes) {
      // jswrap_crypto_AEScrypt: key 128/192/256 bits, options {iv (16 bytes, default zeros), mode CBC (default,
      // no padding: the length must be a multiple of 16), CFB (CFB8), CTR (counter from zero, iv unused), ECB
      // (whole blocks only)}; OFB and bad lengths fail with a printed error and undefined.
      const crypt = (encrypt: boolean) => function (message: unknown, key: unknown, options?: any) {
        let iv: Uint8Array = new Uint8Array(16);
        let mode = "CBC";
        if (options !== null && typeof options === "object") {
          if (options.iv !== undefined) {
            const b = dev.toBytes(options.iv);
            iv = new Uint8Array(16);
            iv.set(b.subarray(0, 16));
          }
          if (options.mode !== undefined) {
            mode = String(options.mode);
            if (["CBC", "CFB", "CTR", "OFB", "ECB"].indexOf(mode) < 0) throw new (dev.realm.intrinsics.Error)("Unknown Crypto mode " + JSON.stringify(mode));
          }
        } else if (options !== undefined) {
          dev.jsError("'options' must be undefined, or an Object");
          return undefined;
        }
        const msg = dev.toBytes(message);
        const k = dev.toBytes(key);
        if ([16, 24, 32].indexOf(k.length) < 0) {
          dev.jsError("Invalid key length");
          return undefined;
        }
        const bits = k.length * 8;
        let out: Uint8Array;
        try {
          if (mode === "CBC") {
            if (msg.length % 16) throw new Error("Invalid input length");
            const c = encrypt ? createCipheriv("aes-" + bits + "-cbc", k, iv) : createDecipheriv("aes-" + bits + "-cbc", k, iv);
            c.setAutoPadding(false);
            out = new Uint8Array(Buffer.concat([c.update(msg), c.final()]));
          } else if (mode === "CFB") {
            const c = encrypt ? createCipheriv("aes-" + bits + "-cfb8", k, iv) : createDecipheriv("aes-" + bits + "-cfb8", k, iv);
            out = new Uint8Array(Buffer.concat([c.update(msg), c.final()]));
          } else if (mode === "CTR") {
            const c = createCipheriv("aes-" + bits + "-ctr", k, new Uint8Array(16));
            out = new Uint8Array(Buffer.concat([c.update(msg), c.final()]));
          } else if (mode === "ECB") {
            out = new Uint8Array(msg.length);
            const whole = msg.length - (msg.length % 16);
            const c = encrypt ? createCipheriv("aes-" + bits + "-ecb", k, null) : createDecipheriv("aes-" + bits + "-ecb", k, null);
            c.setAutoPadding(false);
            out.set(Buffer.concat([c.update(msg.subarray(0, whole)), c.final()]));
          } else throw new Error("Feature unavailable");
        } catch (e) {
          dev.jsError((e as Error).message);
          return undefined;
        }
        return dev.ctxBuffer(out);
      };
      const AES: any = {};
      Object.defineProperty(AES, "encrypt", { value: crypt(true), writable: true, configurable: true, enumerable: false });
      Object.defineProperty(AES, "decrypt", { value: crypt(false), writable: true, configurable: true, enumerable: false });
      def("AES", AES);
    }
    return api;
  }

  private pinApi(name: string): any {
    const dev = this;
    const pin = this.pins.get(name)!;
    const hw = this.board.pinHw[name] || [name, -1];
    // A Pin value (jswrap_pin.c): prints as its hardware name, converts to its index in arithmetic and `==`
    // (default hint), and is false under `if` when its index is 0 (transform.ts routes tests through
    // __espruinoBool). `"" + BTN` gives the index here where the device gives "D0": use String(BTN).
    const api: any = {
      read: () => pin.state,
      write: (v: unknown) => { if (name !== dev.board.button) pin.state = !!v; },
      set: () => api.write(true),
      reset: () => api.write(false),
      toggle: () => { api.write(!pin.state); return pin.state; },
      mode: () => {},
      getMode: () => "input",
      getInfo: () => dev.ctxValue({ num: hw[1] }),
      toString: () => hw[0],
      valueOf: () => hw[1],
    };
    Object.defineProperty(api, Symbol.toPrimitive, { value: (hint: string) => (hint === "string" ? hw[0] : hw[1]) });
    Object.defineProperty(api, PIN_KEY, { value: name });
    pin.api = api;
    return api;
  }

  /** The emulator's key (BTN1, LED1…) of a pin given as a Pin, its number or its name ("D0", "BTN1"). */
  pinKey(pin: unknown): string | undefined {
    if (pin && typeof pin === "object" && (pin as any)[PIN_KEY] !== undefined) return (pin as any)[PIN_KEY];
    for (const k of this.pins.keys()) {
      const hw = this.board.pinHw[k];
      if (typeof pin === "number" && hw && hw[1] === pin) return k;
      if (typeof pin === "string" && (k === pin || (hw && hw[0] === pin))) return k;
    }
    return undefined;
  }

  private installApi(): void {
    const dev = this;
    const g = this.realm.global;
    const board = this.board;
    const def = (k: string, v: unknown): void => {
      Object.defineProperty(g, k, { value: v, writable: true, configurable: true, enumerable: false });
    };
    const fmt = (args: IArguments | unknown[]): string => {
      const parts: string[] = [];
      for (let i = 0; i < args.length; i++) parts.push(typeof args[i] === "string" ? (args[i] as string) : formatValue(args[i]));
      return parts.join(" ");
    };
    const print = function () { dev.consoleWrite(fmt(arguments) + "\r\n"); };
    def("print", print);
    def("global", g); // Espruino's global object (jswrap_interactive.c `global`)
    // Espruino's own Math.clip(x, min, max) and Math.wrap(x, max) (jswrap_math.c)
    Object.defineProperty(g.Math, "clip", { value: (x: number, a: number, b: number) => (x < a ? a : x > b ? b : +x), writable: true, configurable: true, enumerable: false });
    Object.defineProperty(g.Math, "wrap", { value: (x: number, m: number) => { const r = x - Math.floor(x / m) * m; return r; }, writable: true, configurable: true, enumerable: false });
    def("console", { log: print, info: print, warn: print, error: print, debug: print });
    for (const [name, port] of this.ports) def(name, port.api);
    for (const name of ["BTN", "BTN1", "LED1", "LED2", "LED3"]) def(name, undefined);
    for (const name of this.pins.keys()) def(name, this.pinApi(name));
    if (board.button) def("BTN", g[board.button]);
    // Helpers the source transform (transform.ts) routes Espruino-specific semantics through.
    // jsvGetBool (jsvar.c): a Pin is integer-ish, true only when its index is not 0.
    def("__espruinoBool", (v: any) => (v && typeof v === "object" && v[PIN_KEY] !== undefined ? +v !== 0 : v));
    // jsvGetTypeOf (jsvar.c): a Pin is numeric, so typeof gives "number".
    def("__espruinoTypeof", (v: any) => (v && typeof v === "object" && v[PIN_KEY] !== undefined ? "number" : typeof v));
    // jsvGetInteger (jsvar.c): bitwise operands become (JsVarInt)(long long)x; a double beyond ±2^63 does not
    // fit the long long and gives 0 (x86 Linux build, as the facts page measured: 1e20|0 is 0; V8 gives 1661992960).
    def("__espruinoInt", (x: any) => (typeof x === "number" && (x >= INT64 || x <= -INT64) ? 0 : x));
    def("getTime", () => dev.clock.now());
    def("setTime", (t: number) => { if (!board.setTimeNoop) dev.clock.setTime(+t); });
    const timer = (repeat: boolean) => function (fn: unknown, ms?: number) {
      const extra = Array.prototype.slice.call(arguments, 2);
      const f = typeof fn === "function" ? fn : () => dev.evalSource(String(fn), "timeout", true);
      return dev.clock.add(() => (f as Function).apply(undefined, extra), ms || 0, repeat, f as Function, extra.length || undefined);
    };
    def("setTimeout", timer(false));
    def("setInterval", timer(true));
    // jswrap_interactive.c (_jswrap_interface_clearTimeoutOrInterval, 2v29): no argument clears all timers; an
    // explicit undefined throws "clearTimeout(undefined) not allowed. Use clearTimeout() instead"; an id that is not
    // running (never set, already fired, already cleared) is ignored (seen on the Linux build).
    const clear = (what: string) => function (id?: number) {
      if (arguments.length === 0) dev.clock.clearAll();
      else if (id === undefined) throw new (dev.realm.intrinsics.Error)("clear" + what + "(undefined) not allowed. Use clear" + what + "() instead");
      else dev.clock.clear(id);
    };
    def("clearTimeout", clear("Timeout"));
    def("clearInterval", clear("Interval"));
    def("changeInterval", (id: number, ms: number) => dev.clock.change(id, ms));
    // jswrap_io.c (jswrap_interface_setWatch): options an object {repeat, edge, debounce} or a boolean (repeat);
    // on a built-in button the defaults are edge "rising" and debounce 25 ms, on other pins "both" and 0; edge may
    // be 1/-1/0 or "rising"/"falling"/"both", anything else is a TypeError. The callback gets {state, time, lastTime}.
    def("setWatch", (fn: any, pin: any, opts: any) => {
      const name = dev.pinKey(pin);
      if (name === undefined) throw new (dev.realm.intrinsics.Error)("Invalid pin " + String(pin));
      const isButton = name === board.button;
      let repeat = false;
      let edge = isButton ? "rising" : "both";
      let debounce = isButton ? 25 : 0;
      if (opts !== null && typeof opts === "object") {
        if (opts.repeat !== undefined) repeat = !!opts.repeat;
        if (opts.debounce !== undefined) debounce = +opts.debounce > 0 ? +opts.debounce : 0;
        const e = opts.edge;
        if (typeof e === "number") edge = e > 0 ? "rising" : e < 0 ? "falling" : "both";
        else if (e !== undefined) {
          if (e !== "rising" && e !== "falling" && e !== "both") throw new (dev.realm.global.TypeError)("'edge' in setWatch should be 1, -1, 0, 'rising', 'falling' or 'both'");
          edge = e;
        }
      } else repeat = !!opts;
      if (typeof fn !== "function" && typeof fn !== "string") throw new (dev.realm.intrinsics.Error)("Function or String not supplied!");
      const cb = typeof fn === "function" ? fn : () => dev.evalSource(String(fn), "watch", true);
      const w: Watch = { id: dev.nextWatch++, fn: cb, pin: name, repeat: repeat, edge: edge, debounce: debounce };
      dev.watches.push(w);
      return w.id;
    });
    // jswrap_io.c (jswrap_interface_clearWatch): no argument clears all; an explicit undefined throws; an id that is
    // not a live watch (a non-repeating watch that fired is gone) throws Error "Unknown Watch <id>".
    def("clearWatch", function (id?: number) {
      if (arguments.length === 0) dev.watches = [];
      else if (id === undefined) throw new (dev.realm.intrinsics.Error)("clearWatch(undefined) not allowed. Use clearWatch() instead");
      else {
        const n = dev.watches.length;
        dev.watches = dev.watches.filter((w) => w.id !== id);
        if (dev.watches.length === n) throw new (dev.realm.intrinsics.Error)("Unknown Watch " + String(id));
      }
    });
    def("digitalWrite", (pin: any, v: unknown) => {
      const k = dev.pinKey(pin);
      const p = k === undefined ? undefined : dev.pins.get(k);
      if (p && k !== board.button) p.state = !!v;
    });
    def("digitalRead", (pin: any) => {
      const k = dev.pinKey(pin);
      const p = k === undefined ? undefined : dev.pins.get(k);
      return p && p.state ? 1 : 0;
    });
    def("reset", () => { dev.pending = { kind: "reset" }; });
    def("load", (file?: string) => { dev.pending = { kind: "load", file: file }; });
    def("save", () => { dev.consoleWrite("save() is not emulated: use Storage (.bootcde)\r\n"); });
    def("echo", (on: boolean) => { dev.echo = !!on; });
    def("btoa", (s: string) => Buffer.from(String(s), "latin1").toString("base64"));
    // JSON as the device parses it (json.ts); JSON.stringify's argument and result are live at once, so their
    // blocks (those not already held by the program) are an allocation that must fit, as on the device.
    const J = dev.realm.global.JSON;
    const realStringify = J.stringify;
    Object.defineProperty(J, "parse", { value: function parse(text: unknown) { return espruinoJsonParse(String(text), dev.jsonRealm()); }, writable: true, configurable: true, enumerable: false });
    Object.defineProperty(J, "stringify", {
      value: function stringify(v: unknown, r?: unknown, sp?: unknown) {
        const out = realStringify.call(J, v, r, sp);
        if (typeof out === "string" && out.length > 32) dev.alloc(dev.transientBlocks(v) + stringBlocks(out.length, dev.layout));
        return out;
      }, writable: true, configurable: true, enumerable: false,
    });
    def("atob", (s: string) => Buffer.from(String(s), "base64").toString("latin1"));
    const modules: Record<string, any> = { Storage: dev.storageApi(), Flash: dev.flashApi() };
    if (board.hashes) modules.crypto = dev.cryptoApi();
    for (const k in modules) dev.realm.builtins.add(modules[k]);
    def("require", (name: string) => {
      if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
      throw new (dev.realm.intrinsics.Error)("Module " + JSON.stringify(String(name)) + " not found");
    });
    const env = {
      VERSION: ESPRUINO_VERSION, GIT_COMMIT: "emulated", BOARD: board.envBoard, RAM: 0, FLASH: 0,
      STORAGE: board.storageBytes, SERIAL: "emulated", CONSOLE: board.consoleDevice,
      MODULES: board.hashes ? "Storage,Flash,crypto" : "Storage,Flash", EXPTR: 0,
    };
    def("process", {
      version: ESPRUINO_VERSION,
      env: dev.ctxValue(env),
      memory: () => {
        const used = dev.measureHeap();
        const m: Record<string, number> = { free: Math.max(0, dev.totalVars - used), usage: used, total: dev.totalVars, history: 0, gc: 0, gctime: 0, blocksize: board.blockBytes };
        if (!isLinux(board)) m.flash_code_start = board.storageStart; // jswrap_process.c, ARM only
        return dev.ctxValue(m);
      },
      on: () => {},
    });
    const E = {
      getConsole: () => (dev.consoleName === "null" ? undefined : dev.consoleName),
      setConsole: (d: unknown, opts?: { force?: boolean }) => dev.setConsole(d, !!(opts && opts.force)),
      hwRand: () => {
        if (board.hwRandRepeats) {
          dev.hwRandState = (Math.imul(dev.hwRandState, 1103515245) + 12345) | 0;
          return dev.hwRandState;
        }
        return randomBytes(4).readInt32LE(0);
      },
      on: (ev: string, cb: Function) => {
        if (!dev.events.has(ev)) dev.events.set(ev, []);
        dev.events.get(ev)!.push(cb);
      },
      removeAllListeners: (ev?: string) => { if (ev === undefined) dev.events.clear(); else dev.events.delete(ev); },
      emit: (ev: string, a?: unknown) => { for (const h of dev.events.get(ev) || []) h(a); },
      getSizeOf: (v: unknown) => countBlocks([v], dev.walkOptions(false)),
      // E.toArrayBuffer(str): an ArrayBuffer on the string itself (jswrap_espruino.c, no copy): 1 block beside the
      // string's own (1 for a string read from Storage, a native/flash string)
      toArrayBuffer: (str: unknown) => {
        const s = String(str);
        dev.alloc(1);
        const ab = new dev.realm.intrinsics.ArrayBuffer(s.length);
        new dev.realm.intrinsics.Uint8Array(ab).set(fromLatin1(s));
        dev.backing.set(ab, dev.flashStrings.has(s) ? 1 : stringBlocks(s.length, dev.layout));
        return ab;
      },
      reboot: () => { dev.pending = { kind: "load" }; },
      setRTCPrescaler: board.rtc === "stm32" ? () => {} : undefined,
      getRTCPrescaler: board.rtc === "stm32" ? () => 32768 : undefined,
    };
    if (board.rtc !== "stm32") {
      delete (E as any).setRTCPrescaler;
      delete (E as any).getRTCPrescaler;
    }
    def("E", E);
  }

  /** Evaluates a REPL/packet expression; returns its value. */
  /** transform.ts's source, its SyntaxError (syntax Espruino rejects) made one of the program's realm. */
  private compile(src: string): string {
    try {
      return espruinoSource(src);
    } catch (e) {
      if (e instanceof SyntaxError && this.realm) throw new this.realm.intrinsics.SyntaxError(e.message);
      throw e;
    }
  }

  evalExpr(src: string): unknown {
    const code = this.compile(src);
    this.sources.add(code, false);
    return this.realm.run(code, "REPL");
  }

  get echoOn(): boolean {
    return this.echo;
  }
}

/** The type name Espruino's %t prints (jsvGetTypeOf-ish: Number, String, Boolean, Array, Object, Function). */
function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "Array";
  const t = typeof v;
  return t === "number" ? "Number" : t === "string" ? "String" : t === "boolean" ? "Boolean" : t === "function" ? "Function" : t === "undefined" ? "undefined" : "Object";
}
