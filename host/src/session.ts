// Typed client of the wire protocol (protocol/index.ts): one method per op, request ids, timeouts, device
// error codes mapped to typed errors, press notices handed to listeners, and a version handshake that
// recognises a bare Espruino REPL. Knows nothing of the CLI (after yubikit's OathSession).
import {
  type AddData,
  type Algorithm,
  type ClockData,
  type CodeData,
  type DeleteData,
  ERR,
  type HelloData,
  type ListData,
  MAX_REPLY_LINE,
  OPS,
  type PinState,
  type PressData,
  PROTOCOL_VERSION,
  type SetTimeData,
  type WipeData,
  createLineReader,
  encodeRequest,
  parsePress,
  parseReply,
} from "../../protocol/index.ts";
import { BadResponseError, FirmwareError, type HwtotpError, TimeoutError, deviceError } from "./errors.ts";
import type { Link } from "./link/index.ts";
import type { ClockSetArgs } from "./clock/types.ts";

/** Ordinary requests: the device answers in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 3000;
/** Requests that write Storage: a real board may compact its flash first (seconds on a full Pico). */
export const STORAGE_TIMEOUT_MS = 10000;
/**
 * Requests that may wait for the button (a touch slot's code, a clock jump, delete, wipe, PIN changes), and
 * unlock (the board stretches the PIN, and may reseal slots a power cut left plain).
 */
export const TOUCH_TIMEOUT_MS = 25000;
/**
 * After a press notice a request has at least the device's own wait (the notice's ms) plus this: the work the
 * press releases (a Storage write; for the pin op the PIN stretch and resealing every slot).
 */
export const PRESS_MARGIN_MS = STORAGE_TIMEOUT_MS;
const PIN_PRESS_MARGIN_MS = 2 * STORAGE_TIMEOUT_MS;

/** Arguments of the pin op (protocol/index.ts): {next} sets a PIN, {pin, next} changes it, {pin} clears it, {pin, idle} sets the idle time. */
export interface PinArgs {
  pin?: string;
  next?: string;
  /** Seconds without a request after which an unlocked session locks again; 0: never. */
  idle?: number;
}

/** Called when the device says what a press would confirm for request `id` (an op of this session). */
export type PressListener = (p: PressData, op: string, id: number) => void;

export interface RequestOptions {
  /** Default: timeoutFor(op, a). */
  timeoutMs?: number;
  /** This request's press notice (before the session's listeners). */
  onPress?: (p: PressData) => void;
}

export interface AddArgs {
  name: string;
  /** Secret key, lower-case hex. Goes to the device and nowhere else. */
  key: string;
  alg?: Algorithm;
  digits?: number;
  period?: number;
  touch?: boolean;
  serial?: string;
}

/** Arguments of settime: defined once, with the clock code that computes them (host/src/clock/types.ts). */
export type SetTimeArgs = ClockSetArgs;

export interface SessionOptions {
  timeoutMs?: number;
  touchTimeoutMs?: number;
  /**
   * First request id. Default: random in 1..2^30, so a reply left on the port by an earlier client that
   * quit mid-request is not taken for ours (serial ports keep bytes between opens).
   */
  firstId?: number;
}

interface Pending {
  resolve: (d: { [k: string]: unknown }) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  op: string;
  sent: number;
  deadline: number;
  onPress?: (p: PressData) => void;
}

// What a bare Espruino REPL prints when it is sent a JSON line: the echo after its ">" prompt, a
// SyntaxError, "=undefined", or its banner.
const REPL_LINE = /^>|Uncaught|^=\S|Espruino|^ _+|SyntaxError/;

export class Session {
  private nextId: number;
  private pending = new Map<number, Pending>();
  private closedErr: HwtotpError | null = null;
  private replSeen = false;
  private tail = "";
  private pressListeners = new Set<PressListener>();
  private reader = createLineReader(
    MAX_REPLY_LINE,
    (line) => this.onLine(line),
    () => {
      const first = this.pending.keys().next();
      if (!first.done)
        this.settle(first.value, null, new BadResponseError("The device sent a reply longer than " + MAX_REPLY_LINE + " characters."));
    },
  );
  readonly timeoutMs: number;
  readonly touchTimeoutMs: number;
  /** The hello reply of the handshake, when `Session.connect` did one. */
  info: HelloData | null = null;

  constructor(
    readonly link: Link,
    opts: SessionOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.touchTimeoutMs = opts.touchTimeoutMs ?? TOUCH_TIMEOUT_MS;
    this.nextId = opts.firstId ?? 1 + Math.floor(Math.random() * 0x3fffffff);
    link.onData((chunk) => {
      this.tail = (this.tail + chunk).slice(-256);
      this.reader.push(chunk);
    });
    link.onClose((err) => this.onClose(err));
  }

  /** Opens the link, then checks that hwtotp firmware of our protocol version answers. */
  static async connect(link: Link, opts: SessionOptions = {}): Promise<Session> {
    await link.open();
    const s = new Session(link, opts);
    try {
      s.info = await s.hello();
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  get address(): string {
    return this.link.address;
  }

  hello(): Promise<HelloData> {
    return this.request<HelloData>(OPS.HELLO).then((d) => {
      if (d.proto !== PROTOCOL_VERSION) throw versionError(d.proto, d.fw);
      return d;
    });
  }
  time(): Promise<ClockData> {
    return this.request<ClockData>(OPS.TIME);
  }
  /** May wait for a (long) press when it is a jump. */
  setTime(a: SetTimeArgs): Promise<SetTimeData> {
    return this.request<SetTimeData>(OPS.SET_TIME, { ...a });
  }
  add(a: AddArgs): Promise<AddData> {
    return this.request<AddData>(OPS.ADD, { ...a });
  }
  list(): Promise<ListData> {
    return this.request<ListData>(OPS.LIST);
  }
  /** Waits for a press on boards with a button. */
  delete(name: string): Promise<DeleteData> {
    return this.request<DeleteData>(OPS.DELETE, { name });
  }
  /** Codes of every slot (touch slots come back with code null), or of one slot (may wait for the button). */
  code(name?: string): Promise<CodeData> {
    return this.request<CodeData>(OPS.CODE, name === undefined ? undefined : { name });
  }
  /** Waits for a long press on boards with a button. */
  wipe(): Promise<WipeData> {
    return this.request<WipeData>(OPS.WIPE, { confirm: "wipe" });
  }
  /** Unlocks the session with the PIN; a wrong one costs a try (PinError with the tries left). */
  unlock(pin: string): Promise<PinState> {
    return this.request<PinState>(OPS.UNLOCK, { pin });
  }
  /** Locks the session again (the device forgets the key the PIN unwrapped). */
  lock(): Promise<PinState> {
    return this.request<PinState>(OPS.LOCK);
  }
  /** Sets, changes or clears the PIN, or sets the idle time (see PinArgs); waits for a press on boards with a button. */
  pin(a: PinArgs): Promise<PinState> {
    const args: { [k: string]: unknown } = {};
    if (a.pin !== undefined) args.pin = a.pin;
    if (a.next !== undefined) args.next = a.next;
    if (a.idle !== undefined) args.idle = a.idle;
    return this.request<PinState>(OPS.PIN, args);
  }

  /**
   * Calls cb with every press notice of this session's requests (what a press would confirm, whether a
   * long press is needed, how long the device waits). Returns the function that removes it.
   */
  onPress(cb: PressListener): () => void {
    this.pressListeners.add(cb);
    return () => this.pressListeners.delete(cb);
  }

  /** How long to wait for the reply to op: longer for what writes Storage, waits for a press or stretches a PIN. */
  timeoutFor(op: string, a?: { [k: string]: unknown }): number {
    if (op === OPS.SET_TIME || op === OPS.DELETE || op === OPS.WIPE || op === OPS.PIN || op === OPS.UNLOCK)
      return Math.max(this.timeoutMs, this.touchTimeoutMs);
    if (op === OPS.CODE && a?.name !== undefined) return Math.max(this.timeoutMs, this.touchTimeoutMs);
    if (op === OPS.ADD) return Math.max(this.timeoutMs, STORAGE_TIMEOUT_MS);
    return this.timeoutMs;
  }

  /** Sends one request and resolves with its reply data, or rejects with a typed error. */
  request<T>(op: string, a?: { [k: string]: unknown }, opts?: number | RequestOptions): Promise<T> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    const o: RequestOptions = typeof opts === "number" ? { timeoutMs: opts } : (opts ?? {});
    const id = this.nextId;
    this.nextId = this.nextId >= 2147483647 ? 1 : this.nextId + 1;
    const ms = o.timeoutMs ?? this.timeoutFor(op, a);
    return new Promise<T>((resolve, reject) => {
      const sent = Date.now();
      const p: Pending = {
        resolve: resolve as Pending["resolve"],
        reject,
        timer: this.expireAfter(id, ms),
        op,
        sent,
        deadline: sent + ms,
        onPress: o.onPress,
      };
      this.pending.set(id, p);
      this.link.write(encodeRequest(id, op, a)).catch((err: Error) => this.settle(id, null, err));
    });
  }

  private expireAfter(id: number, ms: number): NodeJS.Timeout {
    return setTimeout(() => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      p.reject(this.timeoutError(p.op, Date.now() - p.sent));
    }, ms);
  }

  /** A press notice: the request now waits for the user, so it gets the device's wait plus a margin. */
  private onNotice(id: number, press: PressData): void {
    const p = this.pending.get(id);
    if (!p) return;
    const margin = p.op === OPS.PIN ? PIN_PRESS_MARGIN_MS : PRESS_MARGIN_MS;
    const until = Date.now() + Math.max(0, press.ms) + margin;
    if (until > p.deadline) {
      clearTimeout(p.timer);
      p.deadline = until;
      p.timer = this.expireAfter(id, until - Date.now());
    }
    const calls: Array<() => void> = [];
    if (p.onPress) calls.push(() => p.onPress!(press));
    for (const cb of this.pressListeners) calls.push(() => cb(press, p.op, id));
    for (const call of calls) {
      try {
        call();
      } catch {
        /* a listener's failure is not the request's */
      }
    }
  }

  async close(): Promise<void> {
    await this.link.close();
    this.failAll(this.closedErr ?? new TimeoutError("The session was closed before the device answered."));
  }

  private timeoutError(op: string, ms: number): Error {
    if (this.replSeen) return replError(this.link.address);
    // What it sent instead, unless that may be an echo of a request (a REPL echoes lines: a PIN or a key).
    const echo = /"(op|a|pin|next|key)"\s*:/.test(this.tail);
    const heard = !this.tail.trim()
      ? ""
      : echo
        ? " It sent something else (an echo of a request?)."
        : " It sent something else: " + JSON.stringify(this.tail.trim().slice(-60)) + ".";
    if (/(^|\n)>\s*$/.test(this.tail)) return replError(this.link.address);
    // A device link serves one program at a time (a serial port is opened exclusively; the emulator's TCP
    // link queues a second connection), so silence often means someone else holds it.
    const busy = !this.tail ? " Is another program (e.g. `hwtotp daemon`) connected to it? Then leave out --device." : "";
    return new TimeoutError(
      "No answer from " + this.link.address + " to " + op + " within " + (Math.round(ms / 100) / 10).toFixed(1) + " s." + heard + busy,
    );
  }

  private onLine(line: string): void {
    if (line.charAt(0) === "{") {
      let raw: { [k: string]: unknown } | null = null;
      try {
        raw = JSON.parse(line);
      } catch {
        raw = null;
      }
      // A frame of another protocol version: say which versions are involved.
      if (raw && typeof raw.v === "number" && raw.v !== PROTOCOL_VERSION && typeof raw.id === "number") {
        this.settle(raw.id, null, versionError(raw.v, null));
        return;
      }
      const r = parseReply(line);
      if (r && r.id !== null) {
        if (r.ok) this.settle(r.id, r.d, null);
        else if (r.e === ERR.VERSION) this.settle(r.id, null, versionError(null, null, r.m));
        else this.settle(r.id, null, deviceError(r.e, r.m, r.d));
        return;
      }
      const n = r ? null : parsePress(line);
      if (n) {
        this.onNotice(n.id, n.press);
        return;
      }
      if (r && r.id === null && !r.ok) {
        // The device could not read our frame at all: fail the oldest request with its reason.
        const first = this.pending.keys().next();
        if (!first.done) this.settle(first.value, null, new BadResponseError("The device rejected a frame: " + r.m));
        return;
      }
    }
    if (REPL_LINE.test(line)) {
      this.replSeen = true;
      this.failAll(replError(this.link.address));
    }
  }

  private settle(id: number, d: { [k: string]: unknown } | null, err: Error | null): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(d as { [k: string]: unknown });
  }

  private failAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, null, err);
  }

  private onClose(err?: HwtotpError): void {
    this.closedErr = err ?? new TimeoutError("The session is closed.");
    this.failAll(this.closedErr);
  }
}

function replError(address: string): FirmwareError {
  return new FirmwareError(
    address + " is a plain Espruino REPL without hwtotp firmware. Install it with `hwtotp flash --port " + address + "`.",
    { repl: true },
  );
}

function versionError(deviceProto: number | null, fw: string | null, said?: string): FirmwareError {
  const dev = deviceProto === null ? "another protocol version" : "protocol " + deviceProto;
  const what =
    deviceProto !== null && deviceProto > PROTOCOL_VERSION
      ? "Upgrade this host (npm install hwtotp@latest) or flash the firmware that matches it with `hwtotp flash`."
      : "Update the firmware with `hwtotp flash`.";
  return new FirmwareError(
    "The device speaks " +
      dev +
      (fw ? " (firmware " + fw + ")" : "") +
      (said ? " (" + said.replace(/\.$/, "") + ")" : "") +
      ", this host speaks protocol " +
      PROTOCOL_VERSION +
      ". " +
      what,
    { deviceProtocol: deviceProto },
  );
}
