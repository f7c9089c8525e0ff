// Drift of the device's oscillator, learnt across syncs. Each sync that is precise enough yields one
// sample: the drift over the interval since the previous sync, read off the offset the corrected clock
// built up. Samples are combined by inverse variance (a scalar Kalman filter whose state may wander
// slowly, e.g. with temperature); the device stores the result (ppm, err, samples) at each sync.
import { LIMITS, type ClockData } from "../../../protocol/index.ts";
import type { Measurement } from "./measure.ts";

export const DRIFT = {
  /** One-sigma prior for a board never measured: RC oscillators reach ~500 ppm (facts/espruino.md). */
  PRIOR_ERR: 170,
  /** Assumed one-sigma when a device stores ppm but no err (older firmware). */
  UNKNOWN_ERR: 20,
  /** How far the true drift may wander, ppm per sqrt(day) (temperature, ageing). */
  WANDER: 0.2,
  /** A sample is learnt only over at least this many seconds since the previous sync. */
  MIN_INTERVAL: 300,
  /** A sample is learnt only if the offset was measured to within this many seconds. */
  MAX_UNCERTAINTY: 0.25,
  /** A sample less precise than this (one sigma, ppm) is discarded. */
  MAX_SAMPLE_ERR: 100,
  /** A sample this many sigmas away from the estimate restarts the estimate (the board changed). */
  OUTLIER_SIGMAS: 5,
  /**
   * Floor of one sample's one-sigma, ppm: however precise the two offsets, one interval says no more than how
   * the oscillator ran then; a 32 kHz crystal moves ~0.03 ppm/°C² off its turnover (~0.8 ppm at 5 °C away),
   * an RC oscillator far more. An estimate from n samples is never given less than MIN_ERR / sqrt(n).
   */
  MIN_ERR: 0.5,
  /** How far (s) the host's own clock may wander between two syncs under NTP, counted at each end. */
  HOST_ERR: 0.001,
};

export interface DriftEstimate {
  /** Drift of the raw RTC, ppm; positive: it runs fast. The device divides elapsed time by (1 + ppm·1e-6). */
  ppm: number;
  /** One-sigma uncertainty of ppm. */
  err: number;
  /** Samples the estimate rests on (0: nothing learnt, ppm is the prior 0). */
  samples: number;
}

export type DriftSample = { ok: true; ppm: number; err: number; interval: number } | { ok: false; reason: string; interval: number | null };

/** The estimate the device holds. */
export function storedEstimate(c: ClockData): DriftEstimate {
  if (!c.samples) return { ppm: c.ppm || 0, err: DRIFT.PRIOR_ERR, samples: 0 };
  const err = typeof c.err === "number" && c.err > 0 ? c.err : DRIFT.UNKNOWN_ERR;
  // an estimate stored by an older host may claim more than its samples support
  return { ppm: c.ppm, err: Math.max(err, DRIFT.MIN_ERR / Math.sqrt(c.samples)), samples: c.samples };
}

/**
 * The drift over the interval since the last sync, from a measurement taken now. At the last sync the
 * corrected clock was set to the host's time (to within that sync's uncertainty, taken to be like this
 * one's); since then it ran at (1 + d)/(1 + p) of true time, d the true drift, p the correction applied.
 * Only when the device's clock ran uninterrupted since then (`up`): across a reset or power loss the RTC
 * may have lost or gained any amount, and the offset says nothing about the oscillator.
 */
export function driftSample(m: Measurement, opts: { minInterval?: number; maxUncertainty?: number } = {}): DriftSample {
  const c = m.device;
  if (!c.set || c.synced === null || c.synced === undefined)
    return { ok: false, reason: "no earlier sync to measure from", interval: null };
  const interval = m.host - c.synced;
  if (c.up === false) {
    return { ok: false, reason: "the device restarted since the last sync (its clock did not run uninterrupted)", interval };
  }
  const minInterval = opts.minInterval ?? DRIFT.MIN_INTERVAL;
  const maxU = opts.maxUncertainty ?? DRIFT.MAX_UNCERTAINTY;
  if (!(interval >= minInterval)) {
    return { ok: false, reason: "only " + fmt(interval) + " s since the last sync (need " + minInterval + " s)", interval };
  }
  if (m.uncertainty > maxU) {
    return { ok: false, reason: "offset uncertainty " + fmt(m.uncertainty) + " s exceeds " + maxU + " s", interval };
  }
  const p = c.ppm * 1e-6;
  const d = ((1 + p) * (1 + m.clockOffset / interval) - 1) * 1e6;
  const err = ((2 * (m.uncertainty + DRIFT.HOST_ERR)) / interval) * 1e6;
  if (err > DRIFT.MAX_SAMPLE_ERR) {
    return { ok: false, reason: "sample uncertainty " + fmt(err) + " ppm exceeds " + DRIFT.MAX_SAMPLE_ERR + " ppm", interval };
  }
  if (Math.abs(d) > LIMITS.PPM_MAX) {
    return { ok: false, reason: "implausible drift " + fmt(d) + " ppm (was the clock changed by something else?)", interval };
  }
  return { ok: true, ppm: d, err: Math.max(err, DRIFT.MIN_ERR), interval };
}

/** Folds one sample into the estimate. `restarted` tells when the sample disagreed and replaced it. */
export function combineDrift(
  prev: DriftEstimate,
  s: { ppm: number; err: number; interval: number },
): DriftEstimate & { restarted: boolean } {
  if (prev.samples === 0) return { ppm: s.ppm, err: s.err, samples: 1, restarted: false };
  const days = s.interval / 86400;
  const e1 = Math.sqrt(prev.err * prev.err + DRIFT.WANDER * DRIFT.WANDER * days);
  if (Math.abs(s.ppm - prev.ppm) > DRIFT.OUTLIER_SIGMAS * Math.sqrt(e1 * e1 + s.err * s.err)) {
    return { ppm: s.ppm, err: s.err, samples: 1, restarted: true };
  }
  const w1 = 1 / (e1 * e1);
  const w2 = 1 / (s.err * s.err);
  return {
    ppm: (w1 * prev.ppm + w2 * s.ppm) / (w1 + w2),
    err: Math.sqrt(1 / (w1 + w2)),
    samples: prev.samples + 1,
    restarted: false,
  };
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(2);
}
