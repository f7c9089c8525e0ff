// Request dispatch: one reply per request line, every payload validated by protocol/parseRequest before a
// handler sees it; unknown input gets an error reply, and an unexpected exception becomes E_INTERNAL — nothing
// ever throws across the wire. No handler returns or prints a seed.
import {
  ALGORITHMS,
  ERR,
  LIMITS,
  OPS,
  PROTOCOL_VERSION,
  encodeError,
  encodeOk,
  encodePress,
  parseRequest,
  type Algorithm,
  type CodeInfo,
  type SlotInfo,
} from "../../protocol/index.ts";
import { FW_VERSION } from "./version.ts";
import { makePads, type Hashes } from "./hmac.ts";
import { computeHotp } from "./totp.ts";
import { clockData, corrected, forwardRoom, isSet, JUMP_MAX, noteReveal, now, setClock, withheld, type ClockSet } from "./clock.ts";
import { button, TOUCH_WAIT_MS, waitTouch } from "./touch.ts";
import { changePin, clearPin, lock, locked, pinState, setPin, touchIdle, tryPin } from "./pin.ts";
import { fromHex } from "./seal.ts";
import {
  MAX_SLOTS,
  deleteSlot,
  findSlot,
  infoOf,
  slotHead,
  slotIndexes,
  slotInfo,
  slotKey,
  usedSlots,
  wipeSlots,
  writeSlot,
} from "./store.ts";
import type { RecHead } from "./record.ts";

type Args = { [k: string]: unknown };

/** The one reply of a request: res(null, data) for success, res(ERR.X, sentence[, data]) for an error. */
type Res = (code: string | null, d: { [k: string]: unknown } | string, x?: { [k: string]: unknown }) => void;

const STORAGE_FAILED = "Storage write failed.";
const INTERNAL = "Internal error.";

/** The request being handled (its id and reply channel), for the press notice of touchThen. */
let curId = 0;
let curSend: (s: string) => void = function () {};

let hashes: Hashes = {};
let algs: Algorithm[] = [];

export function setHashes(h: Hashes): void {
  hashes = h;
  algs = [];
  for (let k = 0; k < ALGORITHMS.length; k++) if (h[ALGORITHMS[k]]) algs.push(ALGORITHMS[k] as Algorithm);
}

function opHello(a: Args, res: Res): void {
  const m = process.memory();
  const p = pinState();
  res(null, {
    fw: FW_VERSION,
    proto: PROTOCOL_VERSION,
    board: String(process.env.BOARD),
    algs: algs,
    slots: { used: usedSlots(), max: MAX_SLOTS },
    clock: clockData(),
    heap: { free: m.free, usage: m.usage, total: m.total },
    pin: p,
    guard: { button: button() !== undefined, pin: p.set },
  });
}

/** Runs fn; an unexpected exception becomes one E_INTERNAL reply (a press callback runs outside handleLine). */
function safely(res: Res, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    res(ERR.INTERNAL, INTERNAL);
  }
}

/**
 * Runs fn after a press that confirms `what` (a long one when `long`), telling the host first what the press
 * is for. Without a button: fn at once when `optional` (the PIN is then the only guard), else E_TOUCH.
 */
function touchThen(res: Res, what: string, long: boolean, optional: boolean, fn: () => void): void {
  if (button() === undefined) {
    if (optional) fn();
    else res(ERR.TOUCH, "No button to confirm " + what + ".");
    return;
  }
  const send = curSend;
  const id = curId;
  const waiting = waitTouch(long, function (pressed) {
    if (pressed) safely(res, fn);
    else res(ERR.TOUCH, (long ? "Not held " + LIMITS.LONG_PRESS_MS / 1000 + " s" : "Not pressed") + " in time to confirm " + what + ".");
  });
  if (!waiting) res(ERR.BUSY, "Busy: another request waits for a press.");
  else send(encodePress(id, { what: what, long: long, ms: TOUCH_WAIT_MS }));
}

/** E_LOCKED (true) while a PIN is set and the session is locked; otherwise the idle time starts again. */
function refuseLocked(res: Res): boolean {
  if (!locked()) {
    touchIdle();
    return false;
  }
  res(ERR.LOCKED, "Locked: unlock with the PIN first.");
  return true;
}

/** Marks a reply the handler wrote itself (streamOk): res(null, SENT) only closes the request. */
const SENT = {};

/**
 * Writes an ok reply `{…, d: {<pre>[each(0), …], <post>}}` in parts, one entry in RAM at a time: a list or a
 * code of all 32 slots built whole took ~600 variables at its peak, past what a 2,500-variable board keeps
 * free once a PIN is set. A fault midway ends the half line (the host drops it) before the E_INTERNAL reply.
 */
function streamOk(res: Res, pre: string, n: number, each: (k: number) => unknown, post: string): void {
  const send = curSend;
  send('{"v":1,"id":' + curId + ',"ok":true,"d":{' + pre + "[");
  let m = 0;
  try {
    for (let k = 0; k < n; k++) {
      const e = each(k);
      if (e) send((m++ ? "," : "") + JSON.stringify(e));
    }
  } catch (x) {
    send("\n");
    throw x;
  }
  send("]" + post + "}}\n");
  res(null, SENT);
}

function opList(a: Args, res: Res): void {
  if (refuseLocked(res)) return;
  const idx = slotIndexes();
  streamOk(
    res,
    '"slots":',
    idx.length,
    function (k) {
      return slotInfo(idx[k]);
    },
    ',"max":' + MAX_SLOTS,
  );
}

/** The code entry of slot i (info s, header h); the code itself only when h is given (shown). */
function codeOf(i: number, s: SlotInfo, t: number, h: RecHead | null): CodeInfo {
  const key = h ? slotKey(i, h, hashes) : null;
  const step = Math.floor(t / s.period);
  const c: CodeInfo = {
    name: s.name,
    code: key ? computeHotp(key, step, s.digits) : null,
    step: step,
    left: Math.round(((step + 1) * s.period - t) * 1000) / 1000,
    period: s.period,
    touch: s.touch,
  };
  if (s.serial !== undefined) c.serial = s.serial;
  return c;
}

function replyCodes(res: Res, only: number): void {
  if (!isSet()) {
    res(ERR.CLOCK, "Clock not set.");
    return;
  }
  const t = now();
  const idx = only < 0 ? slotIndexes() : [only];
  const each = function (k: number): CodeInfo | null {
    const h = slotHead(idx[k]);
    const s = h ? infoOf(h) : null;
    return s ? codeOf(idx[k], s, t, only >= 0 || !s.touch ? h : null) : null;
  };
  // no step withheld for a period of 1 s means none for any (whole-second periods): nothing to check
  if (withheld(t, 1)) {
    for (let k = 0; k < idx.length; k++) {
      const h = slotHead(idx[k]);
      const s = h ? infoOf(h) : null;
      const w = s && (only >= 0 || !s.touch) ? withheld(t, s.period) : 0;
      if (w) {
        res(ERR.CLOCK, "Clock moved back past a shown code: wait " + w + " s or confirm with a press.");
        return;
      }
    }
  }
  if (only < 0) streamOk(res, '"t":' + JSON.stringify(t) + ',"codes":', idx.length, each, "");
  else {
    const c = each(0);
    if (!c || c.code === null) {
      res(ERR.ALG, "This board cannot compute this slot.");
      return;
    }
    res(null, { t: t, codes: [c] });
  }
  noteReveal(t);
}

function opCode(a: Args, res: Res): void {
  if (refuseLocked(res)) return;
  if (a.name === undefined || !isSet()) {
    replyCodes(res, -1);
    return;
  }
  const i = findSlot(a.name as string);
  const s = i < 0 ? null : slotInfo(i);
  if (!s) res(ERR.NOSLOT, "No slot " + a.name + ".");
  else if (!s.touch) replyCodes(res, i);
  else
    touchThen(res, "code of slot " + s.name, false, false, function () {
      replyCodes(res, i);
    });
}

/**
 * The handlers of the ops that change something (settime, add, delete, wipe, unlock, lock, pin), made when
 * such a request comes: on the device each function held from boot costs ~7 heap variables, and these
 * are rare, so they are not held (the read path: hello, time, list, code, stays at the top level).
 */
function manage(op: string): ((a: Args, res: Res) => void) | null {
  function opSetTime(a: Args, res: Res): void {
    const t = a.t as number;
    const prev = now();
    const d = t - corrected();
    const set = isSet();
    const first = !set || clockData().synced === null;
    // a clock lost (power cut) while slots exist: any time is a jump, or a hostile host could name a future one
    const lost = !set && usedSlots() > 0;
    const jump = lost || (set && (d < -JUMP_MAX || d > forwardRoom()));
    const apply = function () {
      setClock(t, a as ClockSet, jump || first);
      res(null, { prev: prev, t: now(), jump: jump });
    };
    if (!jump) apply();
    else if (a.force !== true)
      res(
        ERR.JUMP,
        lost ? "The clock was lost: setting it needs force and a press." : "A jump of " + Math.round(d) + " s needs force and a press.",
      );
    else if (!refuseLocked(res))
      touchThen(
        res,
        lost ? "setting the lost clock" : "clock jump of " + (d > 0 ? "+" : "") + Math.round(d) + " s",
        true,
        pinState().set,
        apply,
      );
  }

  function opAdd(a: Args, res: Res): void {
    if (refuseLocked(res)) return;
    const name = a.name as string;
    const alg = (a.alg === undefined ? "SHA1" : a.alg) as Algorithm;
    const hash = hashes[alg];
    if (!hash) {
      res(ERR.ALG, "This board cannot compute " + alg + ".");
      return;
    }
    if (findSlot(name) >= 0) {
      res(ERR.EXISTS, "Slot " + name + " exists.");
      return;
    }
    const i = findSlot("");
    if (i < 0) {
      res(ERR.FULL, "All slots used.");
      return;
    }
    const info: SlotInfo = {
      name: name,
      alg: alg,
      digits: a.digits === undefined ? 6 : (a.digits as number),
      period: a.period === undefined ? 30 : (a.period as number),
      touch: a.touch === true,
    };
    if (a.serial !== undefined) info.serial = a.serial as string;
    const key = fromHex(a.key as string);
    a.key = undefined;
    const b = alg === "SHA512" ? 128 : 64;
    const pads = makePads(hash, b, key);
    key.fill(0);
    const ok = writeSlot(i, info, pads);
    pads.fill(0);
    if (!ok) res(ERR.STORAGE, STORAGE_FAILED);
    else res(null, { slot: info });
  }

  function opDelete(a: Args, res: Res): void {
    if (refuseLocked(res)) return;
    const name = a.name as string;
    if (findSlot(name) < 0) {
      res(ERR.NOSLOT, "No slot " + name + ".");
      return;
    }
    touchThen(res, "delete slot " + name, false, true, function () {
      const i = findSlot(name);
      if (i < 0) res(ERR.NOSLOT, "No slot " + name + ".");
      else {
        deleteSlot(i);
        res(null, { name: name });
      }
    });
  }

  function opWipe(a: Args, res: Res): void {
    if (refuseLocked(res)) return;
    touchThen(res, "wipe every slot", true, true, function () {
      const n = wipeSlots();
      res(null, { slots: n });
    });
  }

  /** A PIN check that spends a try; false (after replying) when the PIN was wrong or could not be checked. */
  function pinRight(pin: string, res: Res): boolean {
    const r = tryPin(pin);
    if (r === 1) return true;
    // -1: the last try went and the token wiped itself (tries 0); 0: n > 0 tries left
    const n = r === -1 ? 0 : pinState().tries;
    if (r === -2) res(ERR.STORAGE, STORAGE_FAILED);
    else res(ERR.PIN, "Wrong PIN: " + (n ? n + " tries left." : "the token wiped itself."), { tries: n, wiped: !n });
    return false;
  }

  function opUnlock(a: Args, res: Res): void {
    if (pinRight(a.pin as string, res)) res(null, pinState() as unknown as Args);
  }

  function opLock(a: Args, res: Res): void {
    lock();
    res(null, pinState() as unknown as Args);
  }

  function opPin(a: Args, res: Res): void {
    const set = pinState().set;
    const next = a.next as string | undefined;
    const idle = a.idle === undefined ? pinState().idle : (a.idle as number);
    if (set ? a.pin === undefined || (next === undefined && a.idle !== undefined) : a.pin !== undefined || next === undefined) {
      res(ERR.ARG, set ? "Give the PIN, and next to change it or idle." : "No PIN set: give only next.");
      return;
    }
    touchThen(res, !set ? "set a PIN" : next !== undefined ? "change the PIN" : "clear the PIN", false, true, function () {
      if (set && !pinRight(a.pin as string, res)) return;
      if (!set ? setPin(next as string, idle) : next !== undefined ? changePin(next, idle) : clearPin())
        res(null, pinState() as unknown as Args);
      else res(ERR.STORAGE, STORAGE_FAILED);
    });
  }

  return op === OPS.SET_TIME
    ? opSetTime
    : op === OPS.ADD
      ? opAdd
      : op === OPS.DELETE
        ? opDelete
        : op === OPS.WIPE
          ? opWipe
          : op === OPS.UNLOCK
            ? opUnlock
            : op === OPS.LOCK
              ? opLock
              : op === OPS.PIN
                ? opPin
                : null;
}

function route(op: string): ((a: Args, res: Res) => void) | null {
  if (op === OPS.HELLO) return opHello;
  if (op === OPS.TIME)
    return function (a: Args, res: Res) {
      res(null, clockData() as unknown as Args);
    };
  if (op === OPS.LIST) return opList;
  if (op === OPS.CODE) return opCode;
  return manage(op);
}

/** Handles one request line; `send` is called exactly once with one reply line (maybe later: touch). */
export function handleLine(line: string, send: (s: string) => void): void {
  const r = parseRequest(line);
  if (!r.ok) {
    send(encodeError(r.id, r.e, r.m));
    return;
  }
  const id = r.req.id;
  let done = false;
  const res: Res = function (code, d, x) {
    if (done) return;
    done = true;
    if (d !== SENT) send(code === null ? encodeOk(id, d as { [k: string]: unknown }) : encodeError(id, code, d as string, x));
  };
  const h = route(r.req.op);
  curId = id;
  curSend = send;
  try {
    if (h) h(r.req.a, res);
    else res(ERR.OP, "Unknown op.");
  } catch (e) {
    res(ERR.INTERNAL, INTERNAL);
  }
}
