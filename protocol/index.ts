// hwtotp wire protocol v1: one JSON object per line ("\n"-terminated), shared by firmware and host.
// ES5-safe on purpose (no Node, no Espruino API, no Map/Set, no regex quantifiers): it ships to the device.
//
// Request: {"v":1,"id":7,"op":"code","a":{"name":"cloud"}}
// Reply:   {"v":1,"id":7,"ok":true,"d":{...}}  or  {"v":1,"id":7,"ok":false,"e":"E_NOSLOT","m":"No slot named cloud."}
// Every request line gets exactly one reply line with the same id (id null when the line had no readable id).

export const PROTOCOL_VERSION = 1;

/** Longest request line the device accepts, in characters, newline excluded. Longer lines get E_FRAME. */
export const MAX_REQUEST_LINE = 512;
/** Longest reply line the host accepts (a "code" for 32 slots is ~2.5 KB). */
export const MAX_REPLY_LINE = 8192;

export const OPS = {
  HELLO: "hello",
  TIME: "time",
  SET_TIME: "settime",
  ADD: "add",
  LIST: "list",
  DELETE: "delete",
  CODE: "code",
  WIPE: "wipe",
  UNLOCK: "unlock",
  LOCK: "lock",
  PIN: "pin",
} as const;
export type Op = (typeof OPS)[keyof typeof OPS];

/** Stable error codes. The sentence that travels with them may change; the code never does. */
export const ERR = {
  FRAME: "E_FRAME", // not a frame: bad JSON, oversize, missing/ill-typed v/id/op
  VERSION: "E_VERSION", // frame for another protocol version
  OP: "E_OP", // unknown op
  ARG: "E_ARG", // arguments of the wrong type or out of range
  NOSLOT: "E_NOSLOT", // no slot with that name
  EXISTS: "E_EXISTS", // a slot with that name exists already
  FULL: "E_FULL", // all slots used
  ALG: "E_ALG", // this board cannot compute that hash
  CLOCK: "E_CLOCK", // clock unset (before 2020-01-01) or refused correction
  JUMP: "E_JUMP", // clock correction above the bound needs a button press
  TOUCH: "E_TOUCH", // button not pressed in time
  BUSY: "E_BUSY", // another request waits for the button
  PIN: "E_PIN", // wrong PIN (error data d.tries: tries left; d.wiped: true when that was the last try)
  LOCKED: "E_LOCKED", // a PIN is set and the session is locked: unlock first
  STORAGE: "E_STORAGE", // Storage write failed (full?)
  INTERNAL: "E_INTERNAL", // unexpected exception inside the device
} as const;
export type ErrorCode = (typeof ERR)[keyof typeof ERR];

/** Codes only the daemon (host/src/daemon.ts) answers with; the device never sends them. */
export const DAEMON_ERR = {
  DENIED: "E_DENIED", // the daemon's policy does not let this caller (kernel-checked uid/gid/exe) do this op on this slot
  LIMIT: "E_LIMIT", // a cap of the daemon (connections, queued requests per connection); the sentence names it
} as const;

export const ALGORITHMS = ["SHA1", "SHA256", "SHA512"];
export type Algorithm = "SHA1" | "SHA256" | "SHA512";

/** LIMITS.DIGITS; the spec table below uses it directly so that terser can fold LIMITS into constants. */
const DIGITS = [6, 8];

export const LIMITS = {
  NAME_MAX: 32,
  SERIAL_MAX: 32,
  KEY_MIN_BYTES: 10, // RFC 4226 §4 R6: at least 128 bits recommended; 80 is the floor we accept
  KEY_MAX_BYTES: 64,
  PERIOD_MIN: 1,
  PERIOD_MAX: 300,
  DIGITS: DIGITS,
  SLOTS_MIN: 32,
  /** 2020-01-01T00:00:00Z: a device clock before this is "unset". */
  CLOCK_MIN: 1577836800,
  /** Largest drift correction the device applies, ppm. */
  PPM_MAX: 1000,
  /** Largest clock correction (s, either way) the device applies without a button press; above it is a jump. */
  JUMP_MAX: 120,
  /** Largest backward bias (s) the device keeps between its clock and the time codes are computed at. */
  BIAS_MAX: 30,
  PIN_MIN: 4,
  PIN_MAX: 64,
  /** Wrong PINs in a row after which the device wipes every slot and the PIN (Nitrokey 3: 8). */
  PIN_TRIES: 8,
  /** Longest idle time (s) before an unlocked session locks again; 0 = only reset, power loss or lock. */
  IDLE_MAX: 86400,
  /** A long press (ms): what jumps and wipe need; a shorter press never confirms them. */
  LONG_PRESS_MS: 2000,
};

export interface SlotInfo {
  name: string;
  alg: Algorithm;
  digits: number;
  period: number;
  touch: boolean;
  serial?: string;
}

export interface CodeInfo {
  name: string;
  /** The code, or null for a touch slot in a "code all" request (ask for it by name). */
  code: string | null;
  step: number;
  left: number;
  period: number;
  touch: boolean;
  serial?: string;
}

export interface Request {
  id: number;
  op: string;
  a: { [k: string]: unknown };
}

export interface ReplyOk {
  id: number | null;
  ok: true;
  d: { [k: string]: unknown };
}

export interface ReplyErr {
  id: number | null;
  ok: false;
  e: string;
  m: string;
  /** Optional data of an error (E_PIN: {tries, wiped}). */
  d?: { [k: string]: unknown };
}

/**
 * A notice the device sends before the reply of a request that waits for a press: what the press confirms.
 * {"v":1,"id":7,"press":{"what":"delete slot cloud","long":false,"ms":15000}}. It has no "ok": a host that
 * does not know notices ignores it (parseReply returns null). At most one request waits for a press.
 */
export interface PressNotice {
  id: number;
  press: PressData;
}

export interface PressData {
  /** What the press confirms, e.g. "delete slot cloud", "clock jump of +31536000 s", "wipe every slot". */
  what: string;
  /** True: only a long press (LIMITS.LONG_PRESS_MS or more) confirms. */
  long: boolean;
  /** How long the device waits, ms. */
  ms: number;
}

export type Reply = ReplyOk | ReplyErr;

export interface ParseFail {
  ok: false;
  id: number | null;
  e: string;
  m: string;
}

function isObject(x: unknown): x is { [k: string]: unknown } {
  return typeof x === "object" && x !== null && !(x instanceof Array);
}

function isFrameId(x: unknown): x is number {
  return typeof x === "number" && Math.floor(x) === x && x >= 0 && x <= 2147483647;
}

export function encodeRequest(id: number, op: string, a?: { [k: string]: unknown }): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id: id, op: op, a: a || {} }) + "\n";
}

export function encodeOk(id: number | null, d: { [k: string]: unknown }): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id: id, ok: true, d: d }) + "\n";
}

export function encodeError(id: number | null, e: string, m: string, d?: { [k: string]: unknown }): string {
  const o: { [k: string]: unknown } = { v: PROTOCOL_VERSION, id: id, ok: false, e: e, m: m };
  if (d) o.d = d;
  return JSON.stringify(o) + "\n";
}

export function encodePress(id: number, p: PressData): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id: id, press: p }) + "\n";
}

/** The JSON object a line holds (host side), or null when it holds none. */
function jsonObject(line: string): { [k: string]: unknown } | null {
  try {
    const o: unknown = JSON.parse(line);
    return isObject(o) ? o : null;
  } catch (err) {
    return null;
  }
}

/** Reads a press notice line (host side), or null when the line is not one. */
export function parsePress(line: string): PressNotice | null {
  const o = jsonObject(line);
  if (!o || o.v !== PROTOCOL_VERSION || !isFrameId(o.id) || !isObject(o.press)) return null;
  const p = o.press as { [k: string]: unknown };
  if (typeof p.what !== "string" || typeof p.long !== "boolean" || typeof p.ms !== "number") return null;
  return { id: o.id as number, press: { what: p.what as string, long: p.long as boolean, ms: p.ms as number } };
}

export interface LineReader {
  /** Feed a chunk (any size, any split). Complete lines are delivered synchronously. */
  push(chunk: string): void;
  /** Drop a partial line (e.g. after a reconnect). */
  reset(): void;
}

/**
 * Splits a character stream into lines of at most `max` characters. A longer line is not buffered:
 * its characters are dropped up to the next newline and `onOversize` is called once for it.
 * "\r" before "\n" is removed, empty lines are ignored.
 */
export function createLineReader(max: number, onLine: (line: string) => void, onOversize: () => void): LineReader {
  let buf = "";
  let skipping = false;
  function push(chunk: string): void {
    let start = 0;
    let nl = chunk.indexOf("\n");
    while (nl >= 0) {
      if (skipping) {
        skipping = false;
        onOversize();
      } else {
        let line = buf + chunk.substring(start, nl);
        buf = "";
        if (line.charAt(line.length - 1) === "\r") line = line.substring(0, line.length - 1);
        if (line.length > max) onOversize();
        else if (line.length > 0) onLine(line);
      }
      start = nl + 1;
      nl = chunk.indexOf("\n", start);
    }
    if (skipping) return;
    buf += chunk.substring(start);
    if (buf.length > max + 1) {
      buf = "";
      skipping = true;
    }
  }
  function reset(): void {
    buf = "";
    skipping = false;
  }
  return { push: push, reset: reset };
}

function fail(id: number | null, e: string, m: string): ParseFail {
  return { ok: false, id: id, e: e, m: m };
}

/** Parses one request line and validates its arguments. */
export function parseRequest(line: string): { ok: true; req: Request } | ParseFail {
  // Espruino's JSON.parse makes a "__proto__" key (also spelt with \u escapes) the object's prototype, and a
  // property lookup through a prototype that is not an object kills the real interpreter: such frames are
  // refused before parsing. No valid frame has either (names, PINs and keys are printable ASCII).
  if (line.indexOf("__proto__") >= 0 || line.indexOf("\\u") >= 0) return fail(null, ERR.FRAME, "Not a frame: __proto__ or a \\u escape.");
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (err) {
    return fail(null, ERR.FRAME, "Not a JSON frame.");
  }
  if (!isObject(o)) return fail(null, ERR.FRAME, "Frame must be an object.");
  const id = isFrameId(o.id) ? (o.id as number) : null;
  if (id === null) return fail(null, ERR.FRAME, "id must be an integer 0 to 2147483647.");
  if (o.v !== PROTOCOL_VERSION) {
    return fail(id, ERR.VERSION, "Device speaks protocol " + PROTOCOL_VERSION + ", not " + JSON.stringify(o.v) + ".");
  }
  if (typeof o.op !== "string") return fail(id, ERR.FRAME, "op must be a string.");
  const op = o.op as string;
  const spec = specOf(op);
  if (!spec) return fail(id, ERR.OP, "Unknown op " + JSON.stringify(op).substring(0, 40) + ".");
  let a = o.a;
  if (a === undefined) a = {};
  if (!isObject(a)) return fail(id, ERR.ARG, "a must be an object.");
  const bad = checkArgs(spec, a);
  if (bad !== null) return fail(id, ERR.ARG, bad);
  return { ok: true, req: { id: id, op: op, a: a } };
}

/** Parses one reply line (host side). Returns null for a line that is not a reply of this protocol. */
export function parseReply(line: string): Reply | null {
  const o = jsonObject(line);
  if (!o || typeof o.ok !== "boolean" || !("id" in o)) return null;
  if (o.v !== PROTOCOL_VERSION && !(o.ok === false && o.e === ERR.VERSION)) return null;
  const id = isFrameId(o.id) ? (o.id as number) : null;
  if (o.ok === true) return { id: id, ok: true, d: isObject(o.d) ? o.d : {} };
  const err: ReplyErr = { id: id, ok: false, e: typeof o.e === "string" ? o.e : ERR.INTERNAL, m: typeof o.m === "string" ? o.m : "" };
  if (isObject(o.d)) err.d = o.d;
  return err;
}

/** 1..max printable ASCII characters, or an error sentence "The <what> must …". */
function checkText(x: unknown, what: string, min: number, max: number): string | null {
  const w = "The " + what + " must ";
  if (typeof x !== "string") return w + "be a string.";
  const s = x as string;
  if (s.length < min || s.length > max) return w + "be " + min + " to " + max + " characters.";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c > 126) return w + "be printable ASCII.";
  }
  return null;
}

/** A slot name: 1–32 printable ASCII characters, no leading or trailing space. Returns an error sentence or null. */
export function checkName(x: unknown, what?: string): string | null {
  const bad = checkText(x, what || "name", 1, LIMITS.NAME_MAX);
  if (bad) return bad;
  const s = x as string;
  return s.charAt(0) === " " || s.charAt(s.length - 1) === " " ? "The " + (what || "name") + " must not start or end with a space." : null;
}

/** Secret key on the wire: lower-case hex, KEY_MIN_BYTES..KEY_MAX_BYTES bytes. Never echoed in the sentence. */
export function checkKeyHex(x: unknown): string | null {
  if (typeof x !== "string") return "The key must be a hex string.";
  const s = x as string;
  const n = s.length / 2;
  if (n < LIMITS.KEY_MIN_BYTES || n > LIMITS.KEY_MAX_BYTES || s.length % 2) {
    return (
      "The key must be " + LIMITS.KEY_MIN_BYTES + " to " + LIMITS.KEY_MAX_BYTES + " bytes (an even number of hex digits), not " + n + "."
    );
  }
  for (let i = 0; i < s.length; i++) {
    if ("0123456789abcdef".indexOf(s.charAt(i)) < 0) return "The key must be lower-case hex.";
  }
  return null;
}

/** A PIN: PIN_MIN..PIN_MAX printable ASCII characters. Never echoed in the sentence. */
export function checkPin(x: unknown, what?: string): string | null {
  return checkText(x, what || "PIN", LIMITS.PIN_MIN, LIMITS.PIN_MAX);
}

/**
 * The check of one argument: [kind, required, lo, hi]. Kinds: 0 number lo..hi, 1 integer lo..hi, 2 boolean,
 * 3 slot name (checkName), 4 key (checkKeyHex), 5 one of the list lo, 6 PIN (checkPin). An absent optional
 * argument passes.
 */
type ArgCheck = [number, number?, (number | unknown[])?, number?];

type ArgSpec = { [k: string]: ArgCheck };

/**
 * One spec per op: its arguments (any other argument is refused), checked in this order; null for an unknown op.
 * Built per call on purpose: a table held in a variable would cost the device ~60 heap variables for good.
 * The op names are OPS's values written out, so that no module variable holds them on the device.
 */
function specOf(op: string): ArgSpec | null {
  return op === "hello" || op === "time" || op === "list" || op === "lock"
    ? {}
    : op === "unlock"
      ? { pin: [6, 1] }
      : op === "pin"
        ? { pin: [6], next: [6, 0, 0, 1], idle: [1, 0, 0, LIMITS.IDLE_MAX] }
        : op === "settime"
          ? {
              t: [0, 1, LIMITS.CLOCK_MIN, 4102444800], // 2020 to 2100, Unix seconds
              ppm: [0, 0, -LIMITS.PPM_MAX, LIMITS.PPM_MAX],
              bias: [0, 0, 0, LIMITS.BIAS_MAX],
              samples: [1, 0, 0, 1000000],
              err: [0, 0, 0, LIMITS.PPM_MAX],
              force: [2],
            }
          : op === "add"
            ? {
                name: [3, 1],
                key: [4, 1],
                alg: [5, 0, ALGORITHMS],
                digits: [5, 0, DIGITS],
                period: [1, 0, LIMITS.PERIOD_MIN, LIMITS.PERIOD_MAX],
                touch: [2],
                serial: [3],
              }
            : op === "delete"
              ? { name: [3, 1] }
              : op === "code"
                ? { name: [3] }
                : op === "wipe"
                  ? { confirm: [5, 1, ["wipe"]] }
                  : null;
}

function checkArg(k: string, x: unknown, c: ArgCheck): string | null {
  const kind = c[0];
  if (kind === 3) return checkName(x, k);
  if (kind === 4) return checkKeyHex(x);
  if (kind === 6) return checkPin(x, c[3] ? "new PIN" : "PIN");
  if (kind === 2) return typeof x === "boolean" ? null : k + " must be true or false.";
  const lo = c[2];
  if (kind === 5) return (lo as unknown[]).indexOf(x) >= 0 ? null : k + " must be " + (lo as unknown[]).join(" or ") + ".";
  return typeof x === "number" && x >= (lo as number) && x <= (c[3] as number) && (!kind || Math.floor(x) === x)
    ? null
    : k + " must be " + (kind ? "an integer " : "a number ") + lo + " to " + c[3] + ".";
}

/** Validates the arguments of a known op against its spec. Returns an error sentence (for E_ARG) or null. */
export function validateArgs(op: string, a: { [k: string]: unknown }): string | null {
  const spec = specOf(op);
  return spec ? checkArgs(spec, a) : null;
}

function checkArgs(spec: ArgSpec, a: { [k: string]: unknown }): string | null {
  let k: string;
  for (k in a) {
    if (!(spec[k] instanceof Array)) return "Unknown argument " + JSON.stringify(k).substring(0, 40) + ".";
  }
  for (k in spec) {
    const bad = a[k] === undefined && !spec[k][1] ? null : checkArg(k, a[k], spec[k]);
    if (bad) return bad;
  }
  return null;
}

// Reply data ("d") of each op. The host's session returns these; the firmware builds them.
export interface HelloData {
  fw: string; // firmware version, e.g. "0.1.0"
  proto: number; // PROTOCOL_VERSION
  board: string; // process.env.BOARD
  algs: Algorithm[]; // hashes this board can compute
  slots: { used: number; max: number };
  clock: ClockData;
  heap: { free: number; usage: number; total: number }; // process.memory(), in variables
  pin?: PinState; // absent from firmware before the PIN
  guard?: GuardState;
}

export interface ClockData {
  set: boolean; // false while the clock is before LIMITS.CLOCK_MIN, or its RTC lost power since the last settime
  t: number; // code clock: drift-corrected time minus bias (what codes are computed at), Unix seconds, float
  raw: number; // uncorrected getTime()
  ppm: number; // drift correction applied (positive: the RTC runs fast)
  synced: number | null; // the drift-corrected time the last settime set (its t), or null
  samples: number; // syncs the drift estimate rests on
  bias?: number; // s the code clock is held behind the drift-corrected clock (t already includes it), 0 if absent
  err?: number; // ppm, one-sigma uncertainty of the drift estimate, as stored by the host at the last sync
  up?: boolean; // true: the last settime was made since this boot (RAM flag), so the RTC ran uninterrupted since `synced`; false after a reset or power loss (no drift can be read across it); absent from older firmware
}

export interface SetTimeData {
  prev: number; // effective time before the change
  t: number; // effective time after
  jump: boolean; // the change exceeded the bound and was confirmed by a button press
}

export interface AddData {
  slot: SlotInfo;
}
export interface ListData {
  slots: SlotInfo[];
  max: number;
}
export interface DeleteData {
  name: string;
}
export interface CodeData {
  t: number; // effective device time the codes were computed at
  codes: CodeInfo[];
}
export interface WipeData {
  slots: number; // how many slots were erased
}

/** The PIN state, in hello (as `pin`) and in the replies of unlock, lock and pin. */
export interface PinState {
  set: boolean; // a PIN is set
  locked: boolean; // a PIN is set and this session is not unlocked (always false without a PIN)
  tries: number; // wrong PINs left before the device wipes itself (LIMITS.PIN_TRIES when none failed)
  idle: number; // s of idle time after which an unlocked session locks again (0: never)
}

/** How the token guards changes (hello's `guard`): a button to press, a PIN, or nothing at all. */
export interface GuardState {
  button: boolean; // the board has a button: delete, wipe, PIN changes and jumps need a press
  pin: boolean; // a PIN is set
}

// unlock {pin} -> PinState; lock {} -> PinState; pin {pin?, new?, idle?} -> PinState:
//   no PIN set: {next[, idle]} sets one; PIN set: {pin, next[, idle]} changes it, {pin} alone clears it,
//   {pin, idle} changes the idle time. Each needs a press on boards with a button; a wrong `pin` costs a try.
export type UnlockData = PinState;
