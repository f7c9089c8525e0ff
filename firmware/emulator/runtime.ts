// The emulated Espruino board: interpreter realm, console/REPL, serial devices and Loopbacks, pins and the
// button, Storage on a flash image, crypto per board, the virtual RTC, a variable cap, boot sequence.
import { createHash, randomBytes } from "node:crypto";
import { BoardProfile } from "./boards.ts";
import { VirtualClock } from "./clock.ts";
import { countBlocks, stringBlocks } from "./heap.ts";
import { createRealm, Realm } from "./sandbox.ts";
import { Flash, PowerCut, Storage, StorageError, fromLatin1, latin1 } from "./storage.ts";
import { espruinoSource } from "./transform.ts";
import { Repl } from "./repl.ts";

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
  totalVars: number;
  usage = 0;
  /** Unused: kept 0 (temporaries are freed at once on Espruino; only the allocation in progress is counted). */
  taskAlloc = 0;
  /** Highest usage + allocation in progress seen since boot. */
  peak = 0;
  tasks = 0;
  oom = false;
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
    this.clock = opts.clock;
    this.totalVars = opts.vars || opts.board.vars;
    this.consoleName = opts.board.consoleDevice;
    this.repl = new Repl(this);
    this.clock.runTask = (fn) => this.task(fn);
    const host = new Port(this, opts.board.consoleDevice, (s) => opts.toHost(s));
    this.ports.set(host.name, host);
    const a = new Port(this, "LoopbackA", (s) => this.ports.get("LoopbackB")!.input(s));
    const b = new Port(this, "LoopbackB", (s) => this.ports.get("LoopbackA")!.input(s));
    this.ports.set(a.name, a);
    this.ports.set(b.name, b);
    if (opts.board.name !== "linux") this.ports.set("Serial1", new Port(this, "Serial1", () => {}));
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
    if (!this.on) return;
    try {
      fn();
    } catch (e) {
      this.reportError(e);
    }
    this.afterTask();
  }

  afterTask(): void {
    this.tasks++;
    this.taskAlloc = 0;
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
      if (p.kind === "reset") this.boot({ load: false, banner: true });
      else this.boot({ load: true, file: p.file });
    }
  }

  reportError(e: unknown): void {
    if (e instanceof PowerCut) throw e;
    if (e instanceof OutOfMemory) {
      this.consoleWrite("ERROR: Out of Memory!\r\nExecution Interrupted\r\n");
      return;
    }
    const err = e as any;
    const name = err && typeof err === "object" ? (err.name === undefined ? "Error" : err.name) : "";
    const msg = err && typeof err === "object" ? err.message : JSON.stringify(e);
    this.consoleWrite("Uncaught " + (name ? name + ": " : "") + msg + "\r\n");
    this.log("uncaught: " + (err && err.stack ? err.stack : String(e)));
  }

  /** Full estimate of variables in use (walks globals, listeners, timers and closures). */
  measureHeap(): number {
    if (!this.realm) return 0;
    const g = this.realm.global;
    const roots: unknown[] = [];
    for (const k of Object.getOwnPropertyNames(g)) {
      if (this.realm.baseline.has(k)) continue;
      roots.push(k);
      try {
        roots.push(g[k]);
      } catch (e) {
        /* accessor */
      }
    }
    for (const p of this.ports.values()) roots.push(p.handlers.slice());
    for (const w of this.watches) roots.push(w.fn);
    for (const hs of this.events.values()) roots.push(hs.slice());
    roots.push(this.clock.timerFns());
    const base = 30; // the interpreter's root, pins, console and timer lists of a fresh board
    this.usage = base + countBlocks(roots, { builtins: this.realm.builtins, flashStrings: this.flashStrings, closures: true, functionProto: this.realm.functionProto });
    return this.usage;
  }

  /** An allocation of `chars` characters is about to happen: fail like the device when it does not fit. */
  inFlight(chars: number): void {
    this.alloc(stringBlocks(chars));
  }

  /**
   * An allocation of `blocks` through the API (a reply, a hash, a buffer read from Storage): throws
   * "Out of Memory!" when it does not fit beside what the program holds. Espruino frees temporaries by reference
   * count at once, and V8 gives no cheap view of a running task's live temporaries, so only this one allocation
   * is added to the last measured usage: a task's true peak is somewhat higher.
   */
  alloc(blocks: number): void {
    if (this.oom) throw new OutOfMemory(); // execution is interrupted: a catch in the program does not resume it
    const now = this.usage + blocks;
    if (now > this.peak) this.peak = now;
    if (now > this.totalVars) {
      this.oom = true;
      throw new OutOfMemory();
    }
  }

  // ---------------------------------------------------------------- boot
  boot(o: { load: boolean; file?: string; banner?: boolean }): void {
    this.on = true;
    this.booting = true;
    this.clock.clearAll();
    this.watches = [];
    this.events = new Map();
    this.flashStrings = new Set();
    for (const p of this.ports.values()) p.handlers = [];
    this.consoleName = this.board.consoleDevice;
    this.echo = true;
    this.repl.reset();
    this.realm = createRealm();
    this.installApi();
    this.realm.adopt();
    this.usage = 0;
    this.taskAlloc = 0;
    this.peak = 0;
    if (o.banner) this.consoleWrite(this.banner());
    if (o.load) {
      if (o.file) this.runFile(o.file);
      else {
        for (const f of [".boot0", ".boot1", ".boot2", ".boot3"]) if (this.storage.find(f)) this.runFile(f);
        if (!this.buttonHeld() && this.storage.find(".bootcde")) this.runFile(".bootcde");
      }
      for (const h of this.events.get("init") || []) this.safeCall(h);
      if (typeof this.realm.global.onInit === "function") this.safeCall(this.realm.global.onInit);
    }
    this.booting = false;
    this.measureHeap();
    if (this.consoleName === this.board.consoleDevice && !o.load) this.consoleWrite(">");
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
    this.evalSource(src, name, true);
  }

  /** Runs source as the interpreter would; errors are reported on the console. */
  evalSource(src: string, filename: string, report: boolean): unknown {
    try {
      return this.realm.run(espruinoSource(src), filename);
    } catch (e) {
      if (!report) throw e;
      this.reportError(e);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- button
  setButton(state: boolean, timeDelta?: number): void {
    const b = this.board.button;
    if (!b) throw new Error("Board " + this.board.name + " has no button.");
    const pin = this.pins.get(b)!;
    if (pin.state === state) return;
    pin.state = state;
    const time = this.clock.now() + (timeDelta || 0);
    const lastTime = this.lastButtonTime || time;
    this.lastButtonTime = time;
    if (!this.on) return;
    for (const w of this.watches.slice()) {
      if (w.pin !== b) continue;
      if (w.edge === "rising" && !state) continue;
      if (w.edge === "falling" && state) continue;
      if (!w.repeat) this.watches = this.watches.filter((x) => x !== w);
      this.task(() => w.fn({ state: state, time: time, lastTime: lastTime }));
    }
  }

  // ---------------------------------------------------------------- the API the program sees
  private ctxValue(v: unknown): any {
    if (v === undefined) return undefined;
    return this.realm.intrinsics.JSON.parse(JSON.stringify(v));
  }

  private ctxBuffer(bytes: Uint8Array): ArrayBuffer {
    this.alloc(1 + stringBlocks(bytes.length));
    const ab = new this.realm.intrinsics.ArrayBuffer(bytes.length);
    new this.realm.intrinsics.Uint8Array(ab).set(bytes);
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
    try {
      return fn();
    } catch (e) {
      if (e instanceof PowerCut) throw e;
      if (e instanceof StorageError) throw new (this.realm.global.Error)(e.message);
      throw e;
    } finally {
      this.opts.persist();
    }
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
          const v = dev.realm.intrinsics.JSON.parse(s);
          dev.alloc(countBlocks([v], { builtins: dev.realm.builtins, flashStrings: dev.flashStrings, closures: false }));
          return v;
        } catch (e) {
          if (e instanceof OutOfMemory) throw e;
          if (noExceptions) return undefined;
          throw e;
        }
      },
      readArrayBuffer: (name: string) => {
        const b = st.readBytes(String(name));
        return b ? dev.ctxBuffer(b) : undefined;
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
      compact: () => dev.storageCall(() => st.compact()),
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

  private cryptoApi(): any {
    const dev = this;
    const api: any = {};
    for (const h of this.board.hashes || []) {
      const algo = h.toLowerCase();
      api[h] = (data: unknown) => {
        const digest = createHash(algo).update(dev.toBytes(data)).digest();
        return dev.ctxBuffer(new Uint8Array(digest));
      };
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
    def("console", { log: print, info: print, warn: print, error: print, debug: print });
    for (const [name, port] of this.ports) def(name, port.api);
    if (board.name === "linux") def("Serial1", undefined);
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
      return dev.clock.add(() => (f as Function).apply(undefined, extra), ms || 0, repeat, f as Function);
    };
    def("setTimeout", timer(false));
    def("setInterval", timer(true));
    // jswrap_interactive.c (_jswrap_interface_clearTimeoutOrInterval): no argument clears all timers; an id that
    // is not running (never set, already fired, already cleared) throws Error "Unknown Timeout"/"Unknown Interval".
    const clear = (what: string) => function (id?: number) {
      if (arguments.length === 0 || id === undefined) dev.clock.clearAll();
      else if (!dev.clock.clear(id)) throw new (g.Error)("Unknown " + what);
    };
    def("clearTimeout", clear("Timeout"));
    def("clearInterval", clear("Interval"));
    def("changeInterval", (id: number, ms: number) => dev.clock.change(id, ms));
    def("setWatch", (fn: any, pin: any, opts: any) => {
      const o = typeof opts === "object" && opts ? opts : {};
      const name = dev.pinKey(pin);
      if (name === undefined) throw new (g.Error)("Invalid pin " + String(pin));
      const w = { id: dev.nextWatch++, fn: fn, pin: name, repeat: !!o.repeat, edge: o.edge || "both" };
      dev.watches.push(w);
      return w.id;
    });
    // jswrap_io.c (jswrap_interface_clearWatch): an id that is not a live watch (a non-repeating watch that
    // fired is gone) throws Error "Unknown Watch".
    def("clearWatch", (id?: number) => {
      if (id === undefined) dev.watches = [];
      else {
        const n = dev.watches.length;
        dev.watches = dev.watches.filter((w) => w.id !== id);
        if (dev.watches.length === n) throw new (g.Error)("Unknown Watch");
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
    def("atob", (s: string) => Buffer.from(String(s), "base64").toString("latin1"));
    const modules: Record<string, any> = { Storage: dev.storageApi() };
    if (board.hashes) modules.crypto = dev.cryptoApi();
    for (const k in modules) dev.realm.builtins.add(modules[k]);
    def("require", (name: string) => {
      if (Object.prototype.hasOwnProperty.call(modules, name)) return modules[name];
      throw new (g.Error)("Module " + name + " not found");
    });
    const env = {
      VERSION: ESPRUINO_VERSION, GIT_COMMIT: "emulated", BOARD: board.envBoard, RAM: 0, FLASH: 0,
      STORAGE: board.storageBytes, SERIAL: "emulated", CONSOLE: board.consoleDevice,
      MODULES: board.hashes ? "Storage,crypto" : "Storage", EXPTR: 0,
    };
    def("process", {
      version: ESPRUINO_VERSION,
      env: dev.ctxValue(env),
      memory: () => {
        const used = dev.measureHeap();
        return dev.ctxValue({ free: Math.max(0, dev.totalVars - used), usage: used, total: dev.totalVars, history: 0, gc: 0, gctime: 0, blocksize: board.blockBytes });
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
      getSizeOf: (v: unknown) => countBlocks([v], { builtins: dev.realm.builtins, flashStrings: dev.flashStrings, closures: false, functionProto: dev.realm.functionProto }),
      // E.toArrayBuffer(str): the string's bytes as an ArrayBuffer (on a device a view of a flash string, no copy)
      toArrayBuffer: (str: unknown) => dev.ctxBuffer(fromLatin1(String(str))),
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
  evalExpr(src: string): unknown {
    return this.realm.run(espruinoSource(src), "REPL");
  }

  get echoOn(): boolean {
    return this.echo;
  }
}

/** Espruino's REPL rendering of a value (`=…`). */
export function formatValue(v: unknown, depth = 0): string {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (typeof v === "string") return depth === 0 ? JSON.stringify(v) : JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "function") return "function () { [code] }";
  if (depth > 3) return "...";
  if (Array.isArray(v)) return v.length ? "[ " + v.map((x) => formatValue(x, depth + 1)).join(", ") + " ]" : "[  ]";
  if (ArrayBuffer.isView(v)) return "new " + ((v as any).constructor && (v as any).constructor.name) + "([" + Array.prototype.join.call(v, ", ") + "])";
  if (typeof v === "object") {
    const keys = Object.keys(v as object);
    if (!keys.length) return "{  }";
    return "{\r\n" + keys.map((k) => "  " + JSON.stringify(k) + ": " + formatValue((v as any)[k], depth + 1)).join(",\r\n") + "\r\n }";
  }
  return String(v);
}
