// Espruino's console input handling: the line editor and REPL (echo, `\x10` echo-off lines, Ctrl-C,
// Alt-Enter continuation, `=result`), and the 2v25+ packet protocol (`\x10\x01` + 2 flag bytes + data)
// that the espruino tools use for EVAL, EVENT, FILE_SEND/DATA uploads and FILE_RECV downloads.
import { formatValue } from "./format.ts";
import type { Realm } from "./sandbox.ts";
import { fromLatin1, latin1, type Storage } from "./storage.ts";

/** What the REPL needs from its device (device.ts). */
export interface ReplHost {
  readonly powered: boolean;
  readonly echoOn: boolean;
  readonly realm: Realm;
  readonly storage: Storage;
  readonly events: Map<string, Function[]>;
  consoleWrite(s: string): void;
  task(fn: () => void): void;
  afterTask(): void;
  evalExpr(src: string): unknown;
  reportError(e: unknown): void;
  /** Saves the flash image. */
  persist(): void;
}

const PT = { RESPONSE: 0, EVAL: 0x2000, EVENT: 0x4000, FILE_SEND: 0x6000, DATA: 0x8000, FILE_RECV: 0xa000 };
const ACK = "\x06";
const NAK = "\x15";

/** Net count of open brackets in JS source, ignoring strings and comments (jsiCountBracketsInInput). */
export function openBrackets(src: string): number {
  let n = 0;
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '"' || c === "'" || c === "`") {
      i++;
      while (i < src.length && src[i] !== c) i += src[i] === "\\" ? 2 : 1;
      if (i >= src.length) return n + 1; // unterminated string: keep reading lines
    } else if (c === "/" && src[i + 1] === "/") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) return n + 1;
      i = end + 1;
    } else if (c === "(" || c === "{" || c === "[") n++;
    else if (c === ")" || c === "}" || c === "]") n--;
    i++;
  }
  return n;
}

function packet(type: number, data: string): string {
  const flags = type | data.length;
  return "\x10\x01" + String.fromCharCode((flags >> 8) & 255, flags & 255) + data;
}

export class Repl {
  line = "";
  echoOffLine = false;
  private dle = false;
  private esc: "" | "esc" | "csi" = "";
  private lastCR = false;
  private pkt: string | null = null;
  private upload: { fn: string; size: number; offset: number } | null = null;

  constructor(private readonly dev: ReplHost) {}

  reset(): void {
    this.line = "";
    this.echoOffLine = false;
    this.dle = false;
    this.esc = "";
    this.pkt = null;
    this.upload = null;
  }

  private out(s: string): void {
    this.dev.consoleWrite(s);
  }

  private get showing(): boolean {
    return this.dev.echoOn && !this.echoOffLine;
  }

  feed(s: string): void {
    for (let i = 0; i < s.length; i++) {
      if (!this.dev.powered) return;
      const c = s[i];
      if (this.pkt !== null) {
        this.pkt += c;
        if (this.pkt.length >= 2) {
          const flags = (this.pkt.charCodeAt(0) << 8) | this.pkt.charCodeAt(1);
          if (this.pkt.length >= 2 + (flags & 0x1fff)) {
            const data = this.pkt.substring(2);
            this.pkt = null;
            this.dev.task(() => this.onPacket(flags & 0xe000, data));
          }
        }
        continue;
      }
      if (this.dle) {
        this.dle = false;
        if (c === "\x01") {
          this.pkt = "";
          continue;
        }
        if (this.line === "") this.echoOffLine = true;
      }
      if (this.esc === "esc") {
        this.esc = c === "[" ? "csi" : "";
        if (c === "\n") this.line += "\n"; // Alt-Enter: newline without executing
        continue;
      }
      if (this.esc === "csi") {
        if (/[A-Za-z~]/.test(c)) this.esc = "";
        continue;
      }
      const wasCR = this.lastCR;
      this.lastCR = c === "\r";
      switch (c) {
        case "\x10":
          this.dle = true;
          break;
        case "\x03":
          this.line = "";
          this.echoOffLine = false;
          break;
        case "\x1b":
          this.esc = "esc";
          break;
        case "\r":
          this.enter();
          break;
        case "\n":
          if (!wasCR) this.enter();
          break;
        case "\x08":
        case "\x7f":
          if (this.line.length) {
            this.line = this.line.substring(0, this.line.length - 1);
            if (this.showing) this.out("\x08 \x08");
          }
          break;
        default:
          if (c >= " " || c === "\t") {
            this.line += c;
            if (this.showing) this.out(c);
          }
      }
    }
  }

  private enter(): void {
    if (openBrackets(this.line) > 0) {
      this.line += "\n";
      if (this.showing) this.out("\r\n:");
      return;
    }
    const text = this.line;
    const show = this.showing;
    this.line = "";
    this.echoOffLine = false;
    if (show) this.out("\r\n");
    let result: unknown;
    try {
      result = this.dev.evalExpr(text);
    } catch (e) {
      this.dev.reportError(e);
    }
    if (show && this.dev.powered) this.out("=" + formatValue(result) + "\r\n>");
    this.dev.afterTask();
  }

  private onPacket(type: number, data: string): void {
    const dev = this.dev;
    try {
      if (type === PT.EVAL) {
        let r: unknown;
        try {
          r = dev.evalExpr(data);
        } catch (e) {
          this.out(ACK);
          this.out(packet(PT.RESPONSE, JSON.stringify({ error: String((e as Error).message) })));
          return;
        }
        const json = r === undefined ? "undefined" : JSON.stringify(r);
        this.out(ACK);
        this.out(packet(PT.RESPONSE, json === undefined ? "undefined" : json));
      } else if (type === PT.EVENT) {
        this.out(ACK);
        for (const h of dev.events.get("packet") || []) h(dev.realm.intrinsics.JSON.parse(data));
      } else if (type === PT.FILE_SEND) {
        const o = JSON.parse(data);
        if (typeof o.fn !== "string" || typeof o.s !== "number" || o.c || o.fs) {
          this.out(NAK);
          return;
        }
        this.upload = { fn: o.fn, size: o.s, offset: 0 };
        this.out(ACK);
      } else if (type === PT.DATA) {
        const u = this.upload;
        if (!u) {
          this.out(NAK);
          return;
        }
        dev.storage.write(u.fn, fromLatin1(data), u.offset, u.offset === 0 ? u.size : undefined);
        dev.persist();
        u.offset += data.length;
        if (u.offset >= u.size) this.upload = null;
        this.out(ACK);
      } else if (type === PT.FILE_RECV) {
        const o = JSON.parse(data);
        const b = dev.storage.readBytes(String(o.fn));
        this.out(ACK);
        const s = b ? latin1(b) : "";
        for (let i = 0; i < s.length; i += 1024) this.out(packet(PT.DATA, s.substring(i, i + 1024)));
        this.out(packet(PT.DATA, ""));
      } else this.out(NAK);
    } catch (e) {
      this.out(NAK);
      throw e;
    }
  }
}
