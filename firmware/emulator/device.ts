// The emulated Espruino board: power and reset, the boot sequence, the event loop's tasks, the variable cap and
// heap estimate, crashes, and the console. The program's globals come from one module per concern: ports.ts
// (serial devices), pins.ts (button, LEDs), timers.ts (timers and watches), storage-api.ts (Storage, Flash),
// crypto-api.ts (crypto), globals.ts (the interpreter's own); the console's line editor is repl.ts.
import { TYPED_ARRAYS } from "../espruino-facts.mjs";
import { isLinux, type BoardProfile } from "./boards.ts";
import { VirtualClock } from "./clock.ts";
import { definer, type DeviceCore } from "./core.ts";
import { cryptoModule } from "./crypto-api.ts";
import { DeviceFault, OutOfMemory } from "./errors.ts";
import { ESPRUINO_VERSION, HwRand, installConsole, installInterpreter, installTransformHelpers } from "./globals.ts";
import { countBlocks, flatBlocks, layoutOf, nameBlocks, SourceIndex, stringBlocks, type HeapWalkOptions, type Layout } from "./heap.ts";
import type { JsonRealm } from "./json.ts";
import { Pins } from "./pins.ts";
import { boardPorts, installPorts, type Port, type PortHost } from "./ports.ts";
import { Repl, type ReplHost } from "./repl.ts";
import { createRealm, type Realm } from "./sandbox.ts";
import { Flash, PowerCut, Storage, StorageError, latin1, type MovedFile } from "./storage.ts";
import { flashModule, storageModule } from "./storage-api.ts";
import { installTimers, Watches } from "./timers.ts";
import { espruinoSource } from "./transform.ts";

export { DeviceFault, OutOfMemory } from "./errors.ts";

/** Built-in libraries and classes the device adds to its root when a program first names them (measured on Linux). */
const LIBRARIES = [
  "JSON",
  "Math",
  "E",
  "process",
  "Date",
  "Number",
  "String",
  "Boolean",
  "Array",
  "Error",
  "TypeError",
  "SyntaxError",
  "ReferenceError",
  "InternalError",
  "RegExp",
  "Promise",
  "ArrayBuffer",
  "DataView",
  ...TYPED_ARRAYS,
  "console",
];

export interface DeviceOptions {
  board: BoardProfile;
  flash: Flash;
  clock: VirtualClock;
  /** Host side of the console port (device → host). */
  toHost: (s: string) => void;
  vars?: number;
  /** "always": full heap walk after every task; "sample" (default): every 64 tasks and on process.memory(). */
  heapCheck?: "always" | "sample" | "off";
  /** Saves the flash image (the state file). */
  persist: () => void;
  log?: (s: string) => void;
}

export interface HeapInfo {
  usage: number;
  total: number;
  free: number;
  /** Highest usage seen since boot, including what tasks allocated through the API while they ran. */
  peak: number;
}

/** What a program's run leaves on the device until the next boot. */
class BootState {
  readonly events = new Map<string, Function[]>();
  readonly flashStrings = new Set<string>();
  /** Scripts compiled since boot (where each function's parameters, locals and nesting are read from). */
  readonly sources = new SourceIndex();
  readonly apiBuffers = new WeakSet<object>();
  readonly backing = new WeakMap<object, number>();
  /** Built-in library/class objects the program referenced (the device adds them to its root then). */
  readonly touched = new Set<string>();
  /** Built-in classes whose prototype the program used (new, instanceof): prototype and constructor names. */
  readonly protoUsed = new Set<string>();
  /** Storage files whose code ran since boot (their functions may point into them). */
  readonly running: string[] = [];
}

export class Device implements DeviceCore, PortHost, ReplHost {
  readonly board: BoardProfile;
  readonly flash: Flash;
  readonly storage: Storage;
  readonly clock: VirtualClock;
  readonly layout: Layout;
  readonly totalVars: number;
  private readonly ports: Map<string, Port>;
  private readonly pins: Pins;
  private readonly watches = new Watches();
  private readonly repl: Repl;
  private readonly hwRand: HwRand;
  private theRealm: Realm | null = null;
  private state = new BootState();
  private console: string;
  private usage = 0;
  /** Highest usage + allocation in progress seen since boot. */
  private peak = 0;
  private tasks = 0;
  private oom = false;
  /**
   * Set when the interpreter crashed: a compaction moved a file whose code was running inside a loop on a board
   * with memory-mapped flash (see onCompacted), or an assertion tripped (crash). The program gets no more
   * events, its output is dropped, until reset or power-up.
   */
  private fault: null | { reason: string; file: string } = null;
  private on = false;
  private booting = false;
  private pending: null | { kind: "reset" | "load"; file?: string } = null;
  private echo = true;
  /** Objects the last full heap walk counted. */
  private lastSeen: WeakSet<object> | null = null;
  private jsonHelpers: JsonRealm | null = null;
  private jsonFor: unknown = null;

  constructor(private readonly opts: DeviceOptions) {
    this.board = opts.board;
    this.flash = opts.flash;
    this.storage = new Storage(opts.flash);
    this.storage.onCompact = (moved) => this.onCompacted(moved);
    this.clock = opts.clock;
    this.totalVars = opts.vars || opts.board.vars;
    this.layout = layoutOf(opts.board.layout);
    this.console = opts.board.consoleDevice;
    this.repl = new Repl(this);
    this.hwRand = new HwRand(opts.board.hwRandRepeats);
    this.clock.runTask = (fn) => this.task(fn);
    this.ports = boardPorts(this, (s) => opts.toHost(s));
    this.pins = new Pins(opts.board);
    // a power cut inside a flash operation: the board stops there
    this.flash.onCut = () => this.powerOff();
  }

  /** The program's realm (of the last boot). */
  get realm(): Realm {
    return this.theRealm!;
  }
  get events(): Map<string, Function[]> {
    return this.state.events;
  }
  get flashStrings(): Set<string> {
    return this.state.flashStrings;
  }
  get apiBuffers(): WeakSet<object> {
    return this.state.apiBuffers;
  }
  get backing(): WeakMap<object, number> {
    return this.state.backing;
  }
  /** Name of the device the console is on ("null": none). */
  get consoleName(): string {
    return this.console;
  }
  /** Is the board powered? */
  get powered(): boolean {
    return this.on;
  }
  get faulted(): boolean {
    return this.fault !== null;
  }
  /** Why the interpreter crashed, or null. */
  get faultReason(): string | null {
    return this.fault ? this.fault.reason : null;
  }
  get echoOn(): boolean {
    return this.echo;
  }

  private log(s: string): void {
    if (this.opts.log) this.opts.log(s);
  }

  persist(): void {
    this.opts.persist();
  }

  // ---------------------------------------------------------------- power
  /**
   * Power comes on with the RTC at `t` (Unix seconds): flash writable again, the clock running, first boot (the
   * button read first), timers scheduled.
   */
  powerUp(t: number): void {
    this.flash.dead = false;
    this.flash.cutAfter = -1;
    this.clock.powerUp(t);
    this.clock.running = true;
    this.boot({ kind: "power" });
    this.clock.schedule();
  }

  /** The reset button: RAM lost, the RTC kept (the linux board's is the host clock), boots again. */
  reset(): void {
    const t = this.clock.now();
    this.powerUp(isLinux(this.board) ? Date.now() / 1000 : t);
  }

  /** Power loss and power-up: RAM lost; the RTC too (except the linux board's host clock). */
  powerCycle(): void {
    this.powerUp(isLinux(this.board) ? Date.now() / 1000 : 0);
  }

  /** Power goes off: nothing runs, the clock stops, the flash image is saved. */
  powerOff(): void {
    this.on = false;
    this.clock.stop();
    this.persist();
  }

  /** The power is cut after `steps` more flash operations (program chunk / page erase). */
  cutPowerAfter(steps: number): void {
    this.flash.cutAfter = steps;
  }

  // ---------------------------------------------------------------- host side
  /** Characters from the host on the console port. A crashed or unpowered device reads nothing. */
  input(s: string): void {
    if (!this.on || this.fault) return;
    this.ports.get(this.board.consoleDevice)!.input(s);
  }

  /**
   * The button changes state now (device time). Watches on it get Espruino's event object {state, time, lastTime}
   * (jsinteractive.c): time of this change and of the pin's previous change, whatever edge the watch filters.
   */
  setButton(state: boolean): void {
    const t = this.pins.setButton(state, this.clock.now());
    if (!t || !this.on) return;
    this.watches.fire(this.board.button!, state, (w) => {
      const ev = this.ctxValue({ state: state, time: t.time, lastTime: t.lastTime });
      this.task(() => w.fn(ev));
    });
  }

  leds(): Record<string, boolean> {
    return this.pins.leds();
  }

  heap(): HeapInfo {
    const usage = this.measureHeap();
    return { usage: usage, total: this.totalVars, free: Math.max(0, this.totalVars - usage), peak: Math.max(this.peak, usage) };
  }

  /** Variables per category of one full heap walk (calibration and debugging: heap.ts names the categories). */
  heapTally(): Record<string, number> {
    const tally: Record<string, number> = {};
    this.measureHeap(tally);
    return tally;
  }

  // ---------------------------------------------------------------- console
  consoleWrite(s: string): void {
    const p = this.ports.get(this.console);
    if (p) p.sink(s);
  }

  consoleInput(s: string): void {
    this.repl.feed(s);
  }

  setConsole(dev: unknown, force: boolean): void {
    void force;
    if (dev === null || dev === undefined) {
      this.console = "null";
      return;
    }
    const name =
      typeof dev === "string"
        ? dev
        : typeof dev === "object" && dev && typeof (dev as any).toString === "function"
          ? String((dev as any).toString())
          : "";
    if (!this.ports.has(name)) throw new Error("Expecting a device name, got " + JSON.stringify(name));
    this.console = name;
  }

  setEcho(on: boolean): void {
    this.echo = on;
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

  requestBoot(kind: "reset" | "load", file?: string): void {
    this.pending = kind === "reset" ? { kind: kind } : { kind: kind, file: file };
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
    if (this.theRealm && err instanceof this.theRealm.intrinsics.Error) this.consoleWrite("Uncaught " + String(err) + "\r\n");
    else {
      const name = err && typeof err === "object" ? (err.name === undefined ? "Error" : err.name) : "";
      const msg = err && typeof err === "object" ? err.message : JSON.stringify(e);
      this.consoleWrite("Uncaught " + (name ? name + ": " : "") + msg + "\r\n");
    }
    this.log("uncaught: " + (err && err.stack ? err.stack : String(e)));
  }

  /** What json.ts needs from the realm: its constructors, its SyntaxError, and the crashing prototype. */
  jsonRealm(): JsonRealm {
    if (this.jsonHelpers && this.jsonHelpers.newObject === this.jsonFor) return this.jsonHelpers;
    const i = this.realm.intrinsics;
    const crash = (what: string): never => {
      return this.crash("ASSERT(jsvHasChildren(parent)) FAILED AT src/jsvar.c: " + what + " through a __proto__ that is not an object");
    };
    const poison = new Proxy(Object.create(null), {
      get: (_t, k) => (typeof k === "symbol" || k === "toJSON" ? undefined : crash("a lookup of " + String(k))),
      set: (_t, k) => crash("setting " + String(k)),
      has: (_t, k) => (typeof k === "symbol" ? false : crash("a lookup of " + String(k))),
    });
    this.realm.builtins.add(poison);
    const newObject = (): any => new i.Object();
    this.jsonFor = newObject;
    this.jsonHelpers = {
      newObject: newObject,
      newArray: () => new i.Array(),
      syntaxError: (m: string) => new i.SyntaxError(m),
      poison: poison,
    };
    return this.jsonHelpers;
  }

  /** The device crashed (an assertion, or garbage read as code): it runs nothing more until reset. */
  private crash(reason: string): never {
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

  /** Options for a heap walk over this device's realm. */
  walkOptions(closures: boolean): HeapWalkOptions {
    const i = this.realm.intrinsics;
    const s = this.state;
    return {
      builtins: this.realm.builtins,
      flashStrings: s.flashStrings,
      closures: closures,
      functionProto: this.realm.functionProto,
      layout: this.layout,
      sources: s.sources,
      apiBuffers: s.apiBuffers,
      backing: s.backing,
      defaultProtos: [i.Object.prototype, i.Array.prototype, Object.prototype, Array.prototype],
    };
  }

  /**
   * Full estimate of variables in use, as process.memory().usage counts them: the interpreter's own root
   * (board.baseVars), the built-in objects the program made the interpreter instantiate, the program's globals,
   * the event listeners, timers and watches (with the objects Espruino keeps for them) and everything they reach,
   * closure scopes included (heap.ts). `tally`: the walk adds its blocks per category there.
   */
  measureHeap(tally?: Record<string, number>): number {
    if (!this.theRealm) return 0;
    const L = this.layout;
    const g = this.realm.global;
    const s = this.state;
    let fixed = this.board.baseVars;
    // Built-in libraries and classes the program referenced: a root name and the object; a prototype it used.
    for (const k of s.touched) fixed += nameBlocks(k.length, L) + 1;
    for (const k of s.protoUsed) fixed += nameBlocks(9, L) + 1 + nameBlocks(11, L);
    // Devices the program used (USB, LoopbackA…): an object in the root with a __proto__ to the Serial class.
    let devices = 0;
    for (const p of this.ports.values()) {
      if (!s.touched.has(p.name) && !p.handlers.length && this.console !== p.name) continue;
      if (!s.touched.has(p.name)) fixed += nameBlocks(p.name.length, L) + 1;
      fixed += nameBlocks(9, L);
      devices++;
      if (p.handlers.length) fixed += nameBlocks(7, L) + 1 + p.handlers.length; // "#ondata": [fn, …]
    }
    if (devices) fixed += nameBlocks(6, L) + 1 + nameBlocks(9, L) + 1 + nameBlocks(11, L); // Serial and its prototype
    // E.on(…) listeners: "#on<event>" names on E.
    for (const [ev, hs] of s.events) if (hs.length) fixed += nameBlocks(3 + ev.length, L) + 1 + hs.length;
    // Timers (jswrap_interactive.c: {time, intr, cb, args}) and watches (jswrap_io.c: {pin, recur, debounce, edge, cb, state}).
    for (const t of this.clock.timerList())
      fixed +=
        2 +
        nameBlocks(4, L) +
        1 +
        (t.interval ? nameBlocks(4, L) + 1 : 0) +
        nameBlocks(2, L) +
        (t.args ? nameBlocks(4, L) + 1 + t.args : 0);
    for (const w of this.watches.list()) {
      fixed +=
        2 +
        nameBlocks(3, L) +
        1 +
        (w.repeat ? nameBlocks(5, L) + 1 : 0) +
        (w.debounce > 0 ? nameBlocks(8, L) + 1 : 0) +
        (w.edge !== "both" ? nameBlocks(4, L) : 0) +
        nameBlocks(2, L) +
        nameBlocks(5, L) +
        1;
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
    for (const w of this.watches.list()) roots.push(w.fn);
    for (const hs of s.events.values()) roots.push(...hs);
    for (const t of this.clock.timerList()) roots.push(t.user || t.fn);
    const o = this.walkOptions(true);
    if (tally) o.tally = tally;
    o.seenOut = new WeakSet();
    this.lastSeen = o.seenOut;
    this.usage = fixed + countBlocks(roots, o) - 1; // the root object is in baseVars
    if (tally) tally.fixed = (tally.fixed || 0) + fixed;
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
  private boot(o: { kind: "power" | "reset" | "load"; file?: string; banner?: boolean }): void {
    const first = o.kind === "power";
    const held = first && this.pins.buttonHeld();
    const autoLoad = o.kind === "power" ? !held : o.kind === "load" && !o.file;
    this.on = true;
    this.booting = true;
    this.clock.clearAll();
    this.watches.clear();
    this.state = new BootState();
    this.fault = null;
    for (const p of this.ports.values()) p.clearHandlers();
    this.console = this.board.consoleDevice;
    this.echo = true;
    this.repl.reset();
    const state = this.state;
    this.theRealm = createRealm({
      construct: (name) => state.protoUsed.add(name),
      badProto: (x) => Object.setPrototypeOf(x, this.jsonRealm().poison),
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
    for (const h of this.state.events.get("init") || []) this.safeCall(h);
    if (typeof this.realm.global.onInit === "function") this.safeCall(this.realm.global.onInit);
    if (o.file) run(o.file);
    this.booting = false;
    this.measureHeap();
    if (this.console === this.board.consoleDevice && o.kind === "reset") this.consoleWrite(">");
  }

  /** The program's globals, one module per concern. */
  private installApi(): void {
    const def = definer(this.realm.global);
    installConsole(this, def);
    installPorts(this.ports, def);
    this.pins.install(this, def);
    installTransformHelpers(def);
    installTimers(this, def);
    this.watches.install(this, (pin) => this.pins.key(pin), def);
    const modules: Record<string, any> = { Storage: storageModule(this), Flash: flashModule(this) };
    if (this.board.hashes) modules.crypto = cryptoModule(this);
    installInterpreter(this, def, modules, this.hwRand);
  }

  /** Records which built-in libraries/classes and devices the program names (heap estimate: measureHeap). */
  private trackBuiltins(): void {
    const g = this.realm.global;
    const touched = this.state.touched;
    for (const name of LIBRARIES.concat(Array.from(this.ports.keys()))) {
      const d = Object.getOwnPropertyDescriptor(g, name);
      if (!d || !("value" in d)) continue;
      let v = d.value;
      Object.defineProperty(g, name, {
        configurable: true,
        enumerable: d.enumerable,
        get() {
          touched.add(name);
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
  private onCompacted(moved: MovedFile[]): void {
    if (!this.board.memoryMappedFlash || this.fault || this.booting) return;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 500;
    const holder: { stack?: string } = {};
    Error.captureStackTrace(holder);
    Error.stackTraceLimit = limit;
    const frames = (holder.stack || "")
      .split("\n")
      .map((l) => /\(?([^\s()]+):(\d+):(\d+)\)?\s*$/.exec(l))
      .filter((m) => m) as RegExpExecArray[];
    for (const m of moved) {
      if (this.state.running.indexOf(m.name) < 0) continue;
      const f = frames.find((x) => x[1] === m.name && this.state.sources.inLoop(m.name, +x[2], +x[3]));
      if (f) {
        this.fault = {
          reason:
            "compaction moved " +
            m.name +
            " (0x" +
            m.from.toString(16) +
            " -> 0x" +
            m.to.toString(16) +
            ") while a loop in it ran (line " +
            f[2] +
            ")",
          file: m.name,
        };
        this.log("fault: " + this.fault.reason);
        return;
      }
    }
  }

  private banner(): string {
    return (
      "\r\n ____                 _\r\n|  __|___ ___ ___ _ _|_|___ ___\r\n|  __|_ -| . |  _| | | |   | . " +
      "|\r\n|____|___|  _|_| |___|_|_|_|___|\r\n         |_| espruino.com\r\n " +
      ESPRUINO_VERSION +
      " (c) 2025 G.Williams (hwtotp emulator, board " +
      this.board.envBoard +
      ")\r\n\r\n"
    );
  }

  private safeCall(fn: Function): void {
    try {
      fn();
    } catch (e) {
      this.reportError(e);
    }
  }

  private runFile(name: string): void {
    const bytes = this.storage.readBytes(name);
    if (!bytes) return;
    const src = latin1(bytes);
    this.state.flashStrings.add(src);
    if (this.state.running.indexOf(name) < 0) this.state.running.push(name);
    this.evalSource(src, name, true, true);
  }

  /** transform.ts's source, its SyntaxError (syntax Espruino rejects) made one of the program's realm. */
  private compile(src: string): string {
    try {
      return espruinoSource(src);
    } catch (e) {
      if (e instanceof SyntaxError && this.theRealm) throw new this.theRealm.intrinsics.SyntaxError(e.message);
      throw e;
    }
  }

  /** Runs source as the interpreter would; errors are reported on the console. `flash`: code read from Storage. */
  evalSource(src: string, filename: string, report: boolean, flash = false): unknown {
    try {
      const code = this.compile(src);
      this.state.sources.add(code, flash, flash ? filename : undefined);
      return this.realm.run(code, filename);
    } catch (e) {
      if (!report) throw e;
      this.reportError(e);
      return undefined;
    }
  }

  /** Evaluates a REPL/packet expression; returns its value. */
  evalExpr(src: string): unknown {
    const code = this.compile(src);
    this.state.sources.add(code, false);
    return this.realm.run(code, "REPL");
  }

  // ---------------------------------------------------------------- values handed to the program
  ctxValue(v: unknown): any {
    if (v === undefined) return undefined;
    return this.realm.intrinsics.JSON.parse(JSON.stringify(v));
  }

  ctxBuffer(bytes: Uint8Array): ArrayBuffer {
    this.alloc(1 + flatBlocks(bytes.length, this.layout));
    const ab = new this.realm.intrinsics.ArrayBuffer(bytes.length);
    new this.realm.intrinsics.Uint8Array(ab).set(bytes);
    this.state.apiBuffers.add(ab);
    return ab;
  }

  storageCall<T>(fn: () => T): T {
    if (this.fault) throw new DeviceFault(this.fault.reason);
    let r: T;
    try {
      r = fn();
    } catch (e) {
      if (e instanceof PowerCut) throw e;
      if (e instanceof StorageError) throw new this.realm.intrinsics.Error(e.message);
      throw e;
    } finally {
      this.persist();
    }
    const fault = this.fault as null | { reason: string }; // set by a compaction inside fn
    if (fault) throw new DeviceFault(fault.reason);
    return r;
  }

  jsError(msg: string): void {
    this.consoleWrite("ERROR: " + msg + "\r\n");
  }
}
