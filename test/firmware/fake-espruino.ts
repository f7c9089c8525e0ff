// A small test double of the Espruino runtime for the firmware's own tests: runs firmware/dist/firmware.js in
// node:vm with in-memory Storage (with torn-write injection), ArrayBuffer-returning crypto, a virtual RTC and
// timers, a button and the console devices. The full emulator (firmware/emulator, issue 3) is the faithful
// one; this double only has to be honest about what the firmware uses (espruino.d.ts).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import vm from "node:vm";

export const BUNDLE = new URL("../../firmware/dist/firmware.js", import.meta.url);

export class PowerCut extends Error {}

export interface FakeOptions {
  hashes?: string[]; // crypto module members; [] = no crypto module
  storage?: Map<string, Uint8Array>; // shared across boots = persistence
  time?: number; // RTC start, Unix seconds
  button?: boolean;
  /** BTN is pin number 0 (Puck.js D0), which older Espruino builds treat as false. */
  buttonPinZero?: boolean;
  /** The console device at boot, which the firmware must serve on (default "USB"). */
  link?: "USB" | "Bluetooth" | "Serial1";
  /** Boards without USB (Puck.js): no USB global at all. */
  noUsb?: boolean;
}

interface Timer {
  id: number;
  due: number;
  fn: () => void;
  every: number;
}

export class FakeEspruino {
  storage: Map<string, Uint8Array>;
  out = "";
  console = "USB";
  rtc: number;
  ms = 0;
  timers: Timer[] = [];
  nextId = 1;
  watches = new Map<number, { fn: (e: unknown) => void; repeat: boolean; edge: string }>();
  /** call() answers a press notice with the press it asks for (short, or long: 2.5 s). */
  autoPress = false;
  led = false;
  ledWrites = 0;
  /** When set, the next Storage.write stores only this many bytes (rest 0xFF) and throws PowerCut. */
  tearNextWriteAt: number | null = null;
  /** When set, throws PowerCut right before the next Storage.erase. */
  cutBeforeNextErase = false;
  writes = 0;
  /** Set by a simulated power cut: from then on Storage throws and nothing reaches the wire. */
  dead = false;
  private dataHandler: ((s: string) => void) | null = null;
  private ctx: vm.Context;

  constructor(opts: FakeOptions = {}) {
    this.storage = opts.storage ?? new Map();
    this.rtc = opts.time ?? 946684800;
    this.console = opts.link ?? "USB";
    const link = this.console;
    const hashes = opts.hashes ?? ["SHA1", "SHA256", "SHA512"];
    const self = this;
    const latin1 = (u: Uint8Array) => Buffer.from(u).toString("latin1");
    const toBytes = (d: string | Uint8Array | ArrayBuffer): Uint8Array =>
      typeof d === "string"
        ? new Uint8Array(Buffer.from(d, "latin1"))
        : ArrayBuffer.isView(d)
          ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice()
          : new Uint8Array(d).slice();
    const Storage = {
      read(name: string, off = 0, len?: number) {
        self.alive();
        const f = self.storage.get(name);
        if (!f) return undefined;
        return latin1(f.subarray(off, len === undefined ? f.length : off + len));
      },
      readArrayBuffer(name: string) {
        self.alive();
        const f = self.storage.get(name);
        return f ? f.slice().buffer : undefined;
      },
      readJSON(name: string) {
        const f = self.storage.get(name);
        return f ? JSON.parse(latin1(f)) : undefined;
      },
      write(name: string, data: string | Uint8Array) {
        self.alive();
        if (name.length > 28) throw new Error("Storage name too long");
        const b = toBytes(data);
        self.writes++;
        if (self.tearNextWriteAt !== null) {
          const torn = new Uint8Array(b.length).fill(0xff);
          torn.set(b.subarray(0, self.tearNextWriteAt));
          self.storage.set(name, torn);
          self.tearNextWriteAt = null;
          self.dead = true;
          throw new PowerCut("power cut during write");
        }
        self.storage.set(name, b);
        return true;
      },
      writeJSON(name: string, v: unknown) {
        return Storage.write(name, JSON.stringify(v));
      },
      erase(name: string) {
        self.alive();
        if (self.cutBeforeNextErase) {
          self.cutBeforeNextErase = false;
          self.dead = true;
          throw new PowerCut("power cut before erase");
        }
        self.storage.delete(name);
      },
      list(re?: RegExp) {
        self.alive();
        return [...self.storage.keys()].filter((k) => !re || re.test(k));
      },
      compact() {},
      getStats: () => ({ totalBytes: 1 << 20, freeBytes: 1 << 19, fileBytes: 0, fileCount: self.storage.size, trashBytes: 0, trashCount: 0 }),
      getFree() {
        return 40960;
      },
    };
    const crypto: Record<string, (d: Uint8Array) => ArrayBuffer> = {};
    for (const h of hashes) {
      crypto[h] = (d) => {
        const b = createHash(h.toLowerCase()).update(toBytes(d)).digest();
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
      };
    }
    const port = (name: string) => ({
      on(ev: string, fn: (s: string) => void) {
        if (ev === "data" && name === link) self.dataHandler = fn;
      },
      removeAllListeners() {},
      write(s: string) {
        if (name === link && !self.dead) self.out += s;
      },
      setConsole() {
        self.console = name;
      },
    });
    const pin = (n: string) => ({ name: n, read: () => false, write: () => {} });
    const sandbox: Record<string, unknown> = {
      require(name: string) {
        if (name === "Storage") return Storage;
        if (name === "crypto" && hashes.length > 0) return crypto;
        throw new Error("Module " + name + " not found");
      },
      E: {
        getConsole: () => self.console,
        setConsole: (dev: { setConsole(): void } | null) => {
          if (dev) dev.setConsole();
        },
        hwRand: () => (Math.random() * 2 ** 32) | 0,
        on() {},
        getSizeOf: () => 1,
        toArrayBuffer: (s: string) => new Uint8Array([...String(s)].map((c) => c.charCodeAt(0) & 255)).buffer,
      },
      process: { env: { BOARD: "FAKE", VERSION: "2v29" }, memory: () => ({ free: 2000, usage: 500, total: 2500, history: 0 }), version: "2v29" },
      getTime: () => self.rtc + self.ms / 1000,
      setTime: (t: number) => {
        self.rtc = t - self.ms / 1000;
      },
      setTimeout: (fn: () => void, ms: number) => self.addTimer(fn, ms, 0),
      setInterval: (fn: () => void, ms: number) => self.addTimer(fn, ms, ms),
      // Espruino throws on an id that is not running (one that already fired, say); Node ignores it.
      clearTimeout: (id: number) => self.clearTimer(id, "Unknown Timeout"),
      clearInterval: (id: number) => self.clearTimer(id, "Unknown Interval"),
      setWatch: (fn: (e: unknown) => void, _pin: unknown, o: { repeat?: boolean; edge?: string }) => {
        const id = self.nextId++;
        self.watches.set(id, { fn, repeat: !!o?.repeat, edge: o?.edge ?? "both" });
        return id;
      },
      clearWatch: (id: number) => {
        if (!self.watches.delete(id)) throw new Error("Invalid watch ID");
      },
      digitalWrite: (_p: unknown, v: boolean | number) => {
        self.led = !!v;
        self.ledWrites++;
      },
      USB: opts.noUsb ? undefined : port("USB"),
      Bluetooth: port("Bluetooth"),
      Serial1: port("Serial1"),
      LoopbackA: port("LoopbackA"),
      LoopbackB: port("LoopbackB"),
      LED1: pin("LED1"),
    };
    if (opts.button !== false) sandbox.BTN = opts.buttonPinZero ? 0 : pin("BTN");
    if (opts.noUsb) delete sandbox.USB;
    this.ctx = vm.createContext(sandbox);
    // Built-ins Espruino lacks (facts page) are absent here too.
    vm.runInContext(
      "delete Array.from; delete Object.freeze; delete Math.trunc; delete Math.imul; delete Number.isInteger;" +
        "delete Number.MAX_SAFE_INTEGER; delete Promise.prototype.finally; delete Array.prototype.flat;" +
        "delete Array.prototype.lastIndexOf; delete globalThis.Map; delete globalThis.Set; delete globalThis.WeakMap;" +
        "delete globalThis.Symbol; delete globalThis.Proxy; delete globalThis.Reflect; delete globalThis.BigInt;",
      this.ctx,
    );
  }

  /** When set, Storage reads throw a plain Error (a firmware bug or a flash fault, not a power cut). */
  failReads = false;

  alive(): void {
    if (this.dead) throw new PowerCut("device is off");
    if (this.failReads) throw new Error("flash read fault");
  }

  boot(source = readFileSync(BUNDLE, "utf8")): this {
    vm.runInContext(source, this.ctx, { filename: "firmware.js" });
    return this;
  }

  addTimer(fn: () => void, ms: number, every: number): number {
    const id = this.nextId++;
    this.timers.push({ id, due: this.ms + ms, fn, every });
    return id;
  }

  clearTimer(id: number, unknown?: string): void {
    if (unknown && !this.timers.some((t) => t.id === id)) throw new Error(unknown);
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Advances virtual time, running due timers in order. */
  advance(ms: number): void {
    const end = this.ms + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!due) break;
      this.ms = due.due;
      if (due.every) due.due += due.every;
      else this.clearTimer(due.id);
      due.fn();
    }
    this.ms = end;
  }

  /** A press of `ms` (rising edge now, falling edge `ms` later in the watch events' time). */
  press(ms = 100): boolean {
    const t = this.rtc + this.ms / 1000;
    let any = false;
    for (const [state, time] of [[true, t], [false, t + ms / 1000]] as const) {
      for (const [id, w] of [...this.watches.entries()]) {
        if ((w.edge === "rising" && !state) || (w.edge === "falling" && state)) continue;
        if (!w.repeat) this.watches.delete(id);
        any = true;
        try {
          w.fn({ state, time, lastTime: t });
        } catch (e) {
          // a power cut inside the watch: the board is off (on a board, an uncaught error is printed)
          if (!(e instanceof PowerCut)) throw e;
        }
      }
    }
    return any;
  }

  /** Sends raw characters to the console port. */
  send(s: string): void {
    if (!this.dataHandler) throw new Error("firmware is not listening");
    this.dataHandler(s);
  }

  /** Takes the complete reply lines written so far. */
  take(): Record<string, any>[] {
    const lines = this.out.split("\n");
    this.out = lines.pop() ?? "";
    return lines.filter((l) => l.length > 0).map((l) => JSON.parse(l));
  }

  private rid = 1;
  /** One request → its reply (synchronous replies only). */
  call(op: string, a: Record<string, unknown> = {}): Record<string, any> {
    const id = this.rid++;
    this.send(JSON.stringify({ v: 1, id, op, a }) + "\n");
    let r = this.take();
    if (this.autoPress && r.length === 1 && r[0].press) {
      this.press(r[0].press.long ? 2500 : 100);
      r = this.take();
    }
    if (r.length !== 1 || r[0].id !== id) throw new Error("expected one reply to " + op + ", got " + JSON.stringify(r));
    return r[0];
  }
}
