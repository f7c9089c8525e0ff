// Typed client of the wire protocol (protocol/index.ts): one method per op, request ids, timeouts, device
// error codes mapped to typed errors, and a version handshake that recognises a bare Espruino REPL.
// Knows nothing of the CLI (after yubikit's OathSession).
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
  PROTOCOL_VERSION,
  type SetTimeData,
  type WipeData,
  createLineReader,
  encodeRequest,
  parseReply,
} from "../../protocol/index.ts";
import {
  BadResponseError,
  FirmwareError,
  type HwtotpError,
  TimeoutError,
  deviceError,
} from "./errors.ts";
import type { Link } from "./link/index.ts";
import type { ClockSetArgs } from "./clock/types.ts";

/** Ordinary requests: the device answers in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 3000;
/** Requests that write Storage: a real board may compact its flash first (seconds on a full Pico). */
export const STORAGE_TIMEOUT_MS = 10000;
/** Requests that may wait for the button (a touch slot's code, a clock jump). */
export const TOUCH_TIMEOUT_MS = 25000;

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
  private reader = createLineReader(
    MAX_REPLY_LINE,
    (line) => this.onLine(line),
    () => {
      const first = this.pending.keys().next();
      if (!first.done) this.settle(first.value, null, new BadResponseError("The device sent a reply longer than " + MAX_REPLY_LINE + " characters."));
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
  setTime(a: SetTimeArgs): Promise<SetTimeData> {
    return this.request<SetTimeData>(OPS.SET_TIME, { ...a }, this.touchTimeoutMs);
  }
  add(a: AddArgs): Promise<AddData> {
    return this.request<AddData>(OPS.ADD, { ...a }, Math.max(this.timeoutMs, STORAGE_TIMEOUT_MS));
  }
  list(): Promise<ListData> {
    return this.request<ListData>(OPS.LIST);
  }
  delete(name: string): Promise<DeleteData> {
    return this.request<DeleteData>(OPS.DELETE, { name }, Math.max(this.timeoutMs, STORAGE_TIMEOUT_MS));
  }
  /** Codes of every slot (touch slots come back with code null), or of one slot (may wait for the button). */
  code(name?: string): Promise<CodeData> {
    return name === undefined
      ? this.request<CodeData>(OPS.CODE)
      : this.request<CodeData>(OPS.CODE, { name }, this.touchTimeoutMs);
  }
  wipe(): Promise<WipeData> {
    return this.request<WipeData>(OPS.WIPE, { confirm: "wipe" }, Math.max(this.timeoutMs, STORAGE_TIMEOUT_MS));
  }

  /** Sends one request and resolves with its reply data, or rejects with a typed error. */
  request<T>(op: string, a?: { [k: string]: unknown }, timeoutMs?: number): Promise<T> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    const id = this.nextId;
    this.nextId = this.nextId >= 2147483647 ? 1 : this.nextId + 1;
    const ms = timeoutMs ?? this.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.timeoutError(op, ms));
      }, ms);
      this.pending.set(id, { resolve: resolve as Pending["resolve"], reject, timer, op });
      this.link.write(encodeRequest(id, op, a)).catch((err: Error) => this.settle(id, null, err));
    });
  }

  async close(): Promise<void> {
    await this.link.close();
    this.failAll(this.closedErr ?? new TimeoutError("The session was closed before the device answered."));
  }

  private timeoutError(op: string, ms: number): Error {
    if (this.replSeen) return replError(this.link.address);
    const heard = this.tail.trim() ? " It sent something else: " + JSON.stringify(this.tail.trim().slice(-60)) + "." : "";
    if (/(^|\n)>\s*$/.test(this.tail)) return replError(this.link.address);
    // A device link serves one program at a time (a serial port is opened exclusively; the emulator's TCP
    // link queues a second connection), so silence often means someone else holds it.
    const busy = !this.tail ? " Is another program (e.g. `hwtotp daemon`) connected to it? Then leave out --device." : "";
    return new TimeoutError(
      "No answer from " + this.link.address + " to " + op + " within " + (ms / 1000).toFixed(1) + " s." + heard + busy,
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
        else this.settle(r.id, null, deviceError(r.e, r.m));
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
    "The device speaks " + dev + (fw ? " (firmware " + fw + ")" : "") + (said ? " (" + said.replace(/\.$/, "") + ")" : "") +
      ", this host speaks protocol " + PROTOCOL_VERSION + ". " + what,
    { deviceProtocol: deviceProto },
  );
}
