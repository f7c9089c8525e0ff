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
  parseRequest,
  type Algorithm,
  type CodeInfo,
  type SlotInfo,
} from "../../protocol/index.ts";
import { FW_VERSION } from "./version.ts";
import { blockSize, makePads, type Hashes } from "./hmac.ts";
import { computeHotp, counterAt } from "./totp.ts";
import { clockData, corrected, forwardRoom, isSet, JUMP_MAX, noteReveal, now, setClock, withheld, type ClockSet } from "./clock.ts";
import { hasButton, waitTouch } from "./touch.ts";
import {
  MAX_SLOTS,
  deleteSlot,
  findSlot,
  freeSlot,
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

/** The one reply of a request: res(null, data) for success, res(ERR.X, sentence) for an error. */
type Res = (code: string | null, d: { [k: string]: unknown } | string) => void;

let hashes: Hashes = {};
let algs: Algorithm[] = [];

export function setHashes(h: Hashes): void {
  hashes = h;
  algs = [];
  for (let k = 0; k < ALGORITHMS.length; k++) if (h[ALGORITHMS[k]]) algs.push(ALGORITHMS[k] as Algorithm);
}

function hexToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substring(2 * i, 2 * i + 2), 16);
  return out;
}

function zero(u: Uint8Array): void {
  for (let i = 0; i < u.length; i++) u[i] = 0;
}

function opHello(a: Args, res: Res): void {
  const m = process.memory();
  res(null, {
    fw: FW_VERSION,
    proto: PROTOCOL_VERSION,
    board: String(process.env.BOARD),
    algs: algs,
    slots: { used: usedSlots(), max: MAX_SLOTS },
    clock: clockData(),
    heap: { free: m.free, usage: m.usage, total: m.total },
  });
}

function touchThen(res: Res, fn: () => void): void {
  if (!hasButton()) {
    res(ERR.TOUCH, "No button.");
    return;
  }
  const waiting = waitTouch(function (pressed) {
    if (pressed) fn();
    else res(ERR.TOUCH, "Not pressed in time.");
  });
  if (!waiting) res(ERR.BUSY, "Busy: another request waits for a press.");
}

function opSetTime(a: Args, res: Res): void {
  const t = a.t as number;
  const prev = now();
  const d = t - corrected();
  const first = !isSet() || clockData().synced === null;
  // a clock lost (power cut) while slots exist: any time is a jump, or a hostile host could name a future one
  const lost = !isSet() && usedSlots() > 0;
  const jump = lost || (isSet() && (d < -JUMP_MAX || d > forwardRoom()));
  const apply = function () {
    setClock(t, a as ClockSet, jump || first);
    res(null, { prev: prev, t: now(), jump: jump });
  };
  if (!jump) apply();
  else if (a.force !== true) res(ERR.JUMP, lost ? "The clock was lost: setting it needs force and a press." : "A jump of " + Math.round(d) + " s needs force and a press.");
  else touchThen(res, apply);
}

function opAdd(a: Args, res: Res): void {
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
  const i = freeSlot();
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
  const key = hexToBytes(a.key as string);
  a.key = undefined;
  const b = blockSize(alg);
  const pads = makePads(hash, b, key);
  zero(key);
  const ok = writeSlot(i, info, pads);
  zero(pads);
  if (!ok) res(ERR.STORAGE, "Storage write failed.");
  else res(null, { slot: info });
}

function opList(a: Args, res: Res): void {
  const out: SlotInfo[] = [];
  const idx = slotIndexes();
  for (let k = 0; k < idx.length; k++) {
    const s = slotInfo(idx[k]);
    if (s) out.push(s);
  }
  res(null, { slots: out, max: MAX_SLOTS });
}

function opDelete(a: Args, res: Res): void {
  const i = findSlot(a.name as string);
  if (i < 0) {
    res(ERR.NOSLOT, "No slot " + a.name + ".");
    return;
  }
  deleteSlot(i);
  res(null, { name: a.name });
}

/** The code entry of slot i (info s, header h); the code itself only when h is given (shown). */
function codeOf(i: number, s: SlotInfo, t: number, h: RecHead | null): CodeInfo {
  const key = h ? slotKey(i, h, hashes) : null;
  const step = counterAt(t, s.period);
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
  const codes: CodeInfo[] = [];
  for (let k = 0; k < idx.length; k++) {
    const h = slotHead(idx[k]);
    if (!h) continue;
    const s = infoOf(h);
    const show = only >= 0 || !s.touch;
    const w = show ? withheld(t, s.period) : 0;
    if (w) {
      res(ERR.CLOCK, "Clock moved back past a shown code: wait " + w + " s or confirm with a press.");
      return;
    }
    codes.push(codeOf(idx[k], s, t, show ? h : null));
  }
  if (only >= 0 && (codes.length === 0 || codes[0].code === null)) res(ERR.ALG, "This board cannot compute this slot.");
  else {
    noteReveal(t);
    res(null, { t: t, codes: codes });
  }
}

function opCode(a: Args, res: Res): void {
  if (a.name === undefined || !isSet()) {
    replyCodes(res, -1);
    return;
  }
  const i = findSlot(a.name as string);
  const s = i < 0 ? null : slotInfo(i);
  if (!s) res(ERR.NOSLOT, "No slot " + a.name + ".");
  else if (!s.touch) replyCodes(res, i);
  else touchThen(res, function () {
    replyCodes(res, i);
  });
}

function opWipe(a: Args, res: Res): void {
  res(null, { slots: wipeSlots() });
}

function route(op: string): ((a: Args, res: Res) => void) | null {
  if (op === OPS.HELLO) return opHello;
  if (op === OPS.TIME) return function (a: Args, res: Res) { res(null, clockData() as unknown as Args); };
  if (op === OPS.SET_TIME) return opSetTime;
  if (op === OPS.ADD) return opAdd;
  if (op === OPS.LIST) return opList;
  if (op === OPS.DELETE) return opDelete;
  if (op === OPS.CODE) return opCode;
  if (op === OPS.WIPE) return opWipe;
  return null;
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
  const res: Res = function (code, d) {
    if (done) return;
    done = true;
    send(code === null ? encodeOk(id, d as { [k: string]: unknown }) : encodeError(id, code, d as string));
  };
  const h = route(r.req.op);
  try {
    if (h) h(r.req.a, res);
    else res(ERR.OP, "Unknown op.");
  } catch (e) {
    res(ERR.INTERNAL, "Internal error.");
  }
}

