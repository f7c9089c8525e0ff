// The device clock: effective time = RTC time + offset, corrected by a stored drift (ppm) since the last set,
// minus a stored backward bias (codes never run ahead of the host). Kept small and isolated on purpose: drift
// learning and jump confirmation grow here. The offset makes it work where setTime() does nothing (Linux
// build, emscripten); elsewhere setTime() keeps it near zero.
import { LIMITS, type ClockData } from "../../protocol/index.ts";
import { scanRecord, writeRecord } from "./record.ts";

const BASE = "hwt.c";

/** A correction larger than this (seconds, either way) is a jump and needs a button press. */
export const JUMP_MAX = LIMITS.JUMP_MAX;

export interface ClockSet {
  ppm?: number;
  bias?: number;
  samples?: number;
  err?: number;
}

interface ClockState {
  [k: string]: number | null;
  o: number;
  b: number;
  p: number;
  x: number;
  e: number;
  s: number | null;
  n: number;
  g: number;
  a: number;
  r: number;
}

/**
 * The clock's state, under the short field names its record stores (record.ts header), so that it is saved and
 * loaded as it is: o offset, b RTC time at the last set (base), p ppm, x bias, e err (ppm), s synced (t of the
 * last set, or null), n samples, g guard (code time before which steps are withheld), a anchor (the time the
 * last confirmed set set), r RTC seconds from that anchor to the last set (b).
 */
const c: ClockState = { o: 0, b: 0, p: 0, x: 0, e: 0, s: null, n: 0, g: 0, a: 0, r: 0 };
let file = "";
/** Highest code time a code was revealed at (RAM only). */
let hi = 0;
/** A settime ran since this boot (RAM only): the RTC ran uninterrupted since the reference point. */
let up = false;

export function loadClock(): void {
  const h = scanRecord(BASE);
  file = h ? h.w : "";
  for (const k in c) if (h && typeof h[k] === "number") c[k] = h[k] as number;
  if (h && typeof h.a !== "number" && typeof c.s === "number") c.a = c.s;
}

/**
 * The furthest the corrected clock may be at RTC time `raw`: the anchor plus the RTC seconds since, at the
 * worst drift rate, plus JUMP_MAX. Without a press, no settime, ppm or bias the host sends gets past it.
 */
function limit(raw: number): number {
  return c.a + (c.r + raw - c.b) * (1 + LIMITS.PPM_MAX / 1e6) + JUMP_MAX;
}

/** The drift-corrected clock: what settime's t sets (held at the forward limit). */
export function corrected(): number {
  const raw = getTime();
  const v = c.b + c.o + (raw - c.b) / (1 + c.p / 1e6);
  const m = limit(raw);
  return v < m ? v : m;
}

/** The code clock: the corrected clock held `bias` seconds behind (never ahead of the host). */
export function now(): number {
  return corrected() - c.x;
}

/** False before 2020, and when the RTC went back past the last set (an STM32 RTC that lost power). */
export function isSet(): boolean {
  return getTime() > c.b - 86400 && now() >= LIMITS.CLOCK_MIN;
}

/**
 * How far (s) the clock may move forward without a press: at most JUMP_MAX, and never past the limit, which
 * grows at the worst drift rate (PPM_MAX) since the last confirmed set, so small steps cannot add up.
 */
export function forwardRoom(): number {
  return Math.min(JUMP_MAX, limit(getTime()) - corrected());
}

/** A code was revealed at code time t (RAM only: no write per code). */
export function noteReveal(t: number): void {
  if (t > hi) hi = t;
}

/** Seconds to wait before a code of this period may be shown at t (0: now): after an unconfirmed move back. */
export function withheld(t: number, period: number): number {
  return Math.floor(t / period) < Math.floor(c.g / period) ? Math.ceil(c.g - t) : 0;
}

/**
 * Sets the corrected clock to t (plus drift settings when given). `confirmed` (a press, or the first set)
 * moves the anchor of the forward limit to t; otherwise the limit stays where it was (the caller refuses a t
 * past it), and a move of the code clock back before a code already revealed withholds earlier steps.
 * False if not persisted.
 */
export function setClock(t: number, o: ClockSet, confirmed: boolean): boolean {
  const before = getTime();
  if (confirmed) {
    c.a = t;
    c.r = 0;
  } else c.r += before - c.b;
  if (typeof o.bias === "number") c.x = o.bias;
  setTime(t);
  const raw = getTime();
  c.o = t - raw;
  c.b = raw;
  if (typeof o.ppm === "number") c.p = o.ppm;
  if (typeof o.err === "number") c.e = o.err;
  c.n = typeof o.samples === "number" ? o.samples : c.n + 1;
  c.s = t;
  up = true;
  if (confirmed) c.g = 0;
  else if (hi > now()) c.g = hi;
  const f = writeRecord(BASE, file, c, null);
  if (f) file = f;
  return f !== "";
}

export function clockData(): ClockData {
  return { set: isSet(), t: now(), raw: getTime(), ppm: c.p, synced: c.s, samples: c.n, bias: c.x, err: c.e, up: up };
}
