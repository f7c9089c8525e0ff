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

export function isSet(): boolean {
  return now() >= LIMITS.CLOCK_MIN;
}

/** Sets the corrected clock to t (plus drift settings when given). Returns false if it was not persisted. */
export function setClock(t: number, o: ClockSet): boolean {
  if (typeof o.bias === "number") bias = o.bias;
  setTime(t);
  const raw = getTime();
  offset = t - raw;
  base = raw;
  if (typeof o.ppm === "number") ppm = o.ppm;
  if (typeof o.err === "number") err = o.err;
  samples = typeof o.samples === "number" ? o.samples : samples + 1;
  synced = t;
  const f = writeRecord(BASE, file, { o: offset, b: base, p: ppm, x: bias, e: err, s: synced, n: samples }, null);
  if (f) file = f;
  return f !== "";
}

export function clockData(): ClockData {
  const t = now();
  return { set: t >= LIMITS.CLOCK_MIN, t: t, raw: getTime(), ppm: ppm, synced: synced, samples: samples, bias: bias, err: err };
}
