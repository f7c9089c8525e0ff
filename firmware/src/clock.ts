// The device clock: effective time = RTC time + offset, corrected by a stored drift (ppm) since the last set,
// minus a stored backward bias (codes never run ahead of the host). Kept small and isolated on purpose: drift
// learning and jump confirmation grow here. The offset makes it work where setTime() does nothing (Linux
// build, emscripten); elsewhere setTime() keeps it near zero.
import { LIMITS, type ClockData } from "../../protocol/index.ts";
import { readHead, scanRecord, writeRecord } from "./record.ts";

const BASE = "hwt.c";

/** A correction larger than this (seconds, either way) is a jump and needs a button press. */
export const JUMP_MAX = LIMITS.JUMP_MAX;

export interface ClockSet {
  ppm?: number;
  bias?: number;
  samples?: number;
  err?: number;
}

let file = "";
let offset = 0;
let base = 0;
let ppm = 0;
let bias = 0;
let err = 0;
let synced: number | null = null;
let samples = 0;
let hi = 0;
let guard = 0;
let fwd = JUMP_MAX;

function num(x: unknown, dflt: number): number {
  return typeof x === "number" ? x : dflt;
}

export function loadClock(): void {
  file = scanRecord(BASE);
  const h = file ? readHead(file) : null;
  if (!h) return;
  offset = num(h.o, 0);
  base = num(h.b, 0);
  ppm = num(h.p, 0);
  bias = num(h.x, 0);
  err = num(h.e, 0);
  synced = typeof h.s === "number" ? h.s : null;
  samples = num(h.n, 0);
  guard = num(h.g, 0);
  fwd = num(h.f, JUMP_MAX);
}

/** The drift-corrected clock: what settime's t sets. */
export function corrected(): number {
  const raw = getTime();
  return base + offset + (raw - base) / (1 + ppm / 1e6);
}

/** The code clock: the corrected clock held `bias` seconds behind (never ahead of the host). */
export function now(): number {
  return corrected() - bias;
}

/** False before 2020, and when the RTC went back past the last set (an STM32 RTC that lost power). */
export function isSet(): boolean {
  return getTime() > base - 86400 && now() >= LIMITS.CLOCK_MIN;
}

/**
 * How far (s) the clock may move forward without a press: a bucket of JUMP_MAX that refills at the worst
 * drift rate (PPM_MAX) since the last set and empties by each forward move, so small steps cannot add up.
 */
export function forwardRoom(): number {
  return Math.min(JUMP_MAX, fwd + ((getTime() - base) * LIMITS.PPM_MAX) / 1e6);
}

/** A code was revealed at code time t (RAM only: no write per code). */
export function noteReveal(t: number): void {
  if (t > hi) hi = t;
}

/** Seconds to wait before a code of this period may be shown at t (0: now): after an unconfirmed move back. */
export function withheld(t: number, period: number): number {
  return Math.floor(t / period) < Math.floor(guard / period) ? Math.ceil(guard - t) : 0;
}

/**
 * Sets the corrected clock to t (plus drift settings when given). Unless `confirmed` (a press, or the first
 * set), a forward move spends forward room, and a move of the code clock back before a code already
 * revealed withholds earlier steps. False if not persisted.
 */
export function setClock(t: number, o: ClockSet, confirmed: boolean): boolean {
  const d = t - corrected();
  fwd = confirmed ? JUMP_MAX : forwardRoom() - (d > 0 ? d : 0);
  if (typeof o.bias === "number") bias = o.bias;
  setTime(t);
  const raw = getTime();
  offset = t - raw;
  base = raw;
  if (typeof o.ppm === "number") ppm = o.ppm;
  if (typeof o.err === "number") err = o.err;
  samples = typeof o.samples === "number" ? o.samples : samples + 1;
  synced = t;
  if (confirmed) guard = 0;
  else if (hi > now()) guard = hi;
  const f = writeRecord(BASE, file, { o: offset, b: base, p: ppm, x: bias, e: err, s: synced, n: samples, g: guard, f: fwd }, null);
  if (f) file = f;
  return f !== "";
}

export function clockData(): ClockData {
  const t = now();
  return { set: isSet(), t: t, raw: getTime(), ppm: ppm, synced: synced, samples: samples, bias: bias, err: err };
}
