// The sync policy: when a correction is an ordinary sync, a jump that needs the device's button, or a
// measurement to throw away; how far behind to hold the code clock so it never runs ahead of true time
// until the next sync (Keystone accepts the current and previous steps, never the next: facts/keystone.md);
// and when the next sync is due.
import { LIMITS, type ClockData } from "../../../protocol/index.ts";
import { combineDrift, driftSample, storedEstimate, type DriftEstimate, type DriftSample } from "./drift.ts";
import type { Measurement } from "./measure.ts";

export const POLICY = {
  /** Corrections above this (s) are jumps: the device wants a button press (LIMITS.JUMP_MAX on its side). */
  MAX_JUMP: LIMITS.JUMP_MAX,
  /** A best round trip above this (s) makes the whole measurement worthless: nothing is changed. */
  MAX_RTT: 2,
  /** Longest time between automatic syncs, s. */
  INTERVAL: 3 * 86400,
  /** Shortest time between automatic syncs, s. */
  MIN_INTERVAL: 600,
  /** Error (s) the drift uncertainty may build up to before the next sync is due. */
  BUDGET: 0.5,
  /** Sigmas of drift uncertainty the bias covers. */
  SIGMAS: 3,
  /** Bias floor, s: covers the host clock's own jitter and the device's time resolution. */
  MIN_BIAS: 0.05,
  /** A correction smaller than this (s, beyond the uncertainty) shortly after a sync is not worth a write. */
  SKIP_BELOW: 0.05,
};

export interface SyncOptions {
  /** Corrections above this many seconds need --force and a press on the device. */
  maxJump?: number;
  /** Confirm a jump: the device then waits for its button. */
  force?: boolean;
  maxRtt?: number;
  /** Longest time between syncs the caller plans (the daemon's period). */
  interval?: number;
  /** Learn no drift from this sync (e.g. the host clock itself looks unsynchronised). */
  noLearn?: string | null;
}

export type SyncAction = "set" | "jump" | "skip" | "discard" | "refuse";

export interface SyncPlan {
  action: SyncAction;
  /** Why the action: one sentence. */
  reason: string;
  /** Seconds to add to the device's corrected clock. */
  correction: number;
  /** The drift sample this sync yields, or why it yields none. */
  sample: DriftSample;
  /** The estimate the device keeps after this sync. */
  estimate: DriftEstimate & { restarted?: boolean };
  /** Seconds the code clock is held behind after this sync. */
  bias: number;
  /** When the next sync is due, s from now. */
  nextSync: number;
  /** Refused because the device lost its clock (power cut) while holding slots: needs --force and a press. */
  lost?: boolean;
}

/** Seconds until the drift uncertainty may have moved the clock by the budget (bounded both ways). */
export function nextSyncDelay(est: DriftEstimate, interval = POLICY.INTERVAL): number {
  const rate = POLICY.SIGMAS * est.err * 1e-6;
  const d = rate > 0 ? POLICY.BUDGET / rate : interval;
  return Math.min(interval, Math.max(Math.min(POLICY.MIN_INTERVAL, interval), d));
}

/** How far behind to hold the code clock so that it stays behind until `horizon` s from now. */
export function biasFor(est: DriftEstimate, uncertainty: number, horizon: number): number {
  const b = POLICY.MIN_BIAS + uncertainty + POLICY.SIGMAS * est.err * 1e-6 * horizon;
  return Math.min(LIMITS.BIAS_MAX, round(b, 3));
}

export function planSync(m: Measurement, opts: SyncOptions = {}): SyncPlan {
  const c: ClockData = m.device;
  const maxJump = opts.maxJump ?? POLICY.MAX_JUMP;
  const maxRtt = opts.maxRtt ?? POLICY.MAX_RTT;
  const interval = opts.interval ?? POLICY.INTERVAL;
  const kept = storedEstimate(c);
  const correction = c.set ? -m.clockOffset : 0;
  const base = { correction, estimate: kept, bias: c.bias ?? 0, nextSync: nextSyncDelay(kept, interval) };

  if (m.rtt > maxRtt && c.set) {
    const reason = "round trip " + m.rtt.toFixed(3) + " s exceeds " + maxRtt + " s: measurement discarded, clock left alone";
    return { ...base, action: "discard", reason, sample: { ok: false, reason, interval: null } };
  }
  const jump = c.set && Math.abs(correction) > maxJump;
  if (jump && !opts.force) {
    const reason =
      "a correction of " +
      correction.toFixed(1) +
      " s exceeds the bound of " +
      maxJump +
      " s: confirm with --force and a press on the device";
    return { ...base, action: "refuse", reason, sample: { ok: false, reason: "jump", interval: null } };
  }
  let sample: DriftSample;
  if (!c.set) sample = { ok: false, reason: "device clock was unset", interval: null };
  else if (jump) sample = { ok: false, reason: "a jump says nothing about drift", interval: null };
  else if (m.rtt > maxRtt) sample = { ok: false, reason: "round trip too long", interval: null };
  else if (opts.noLearn) sample = { ok: false, reason: opts.noLearn, interval: null };
  else sample = driftSample(m);
  const estimate = sample.ok ? combineDrift(kept, sample) : kept;
  const nextSync = nextSyncDelay(estimate, interval);
  const bias = biasFor(estimate, m.uncertainty, nextSync);

  // after a restart (up false) the reference point is renewed even when the clock looks right: the next
  // interval then runs on one uninterrupted clock and yields a drift sample
  if (
    c.set &&
    c.up !== false &&
    !jump &&
    !sample.ok &&
    Math.abs(correction) < m.uncertainty + POLICY.SKIP_BELOW &&
    Math.abs((c.bias ?? 0) - bias) < POLICY.SKIP_BELOW
  ) {
    return {
      action: "skip",
      reason: "device clock within " + (m.uncertainty + POLICY.SKIP_BELOW).toFixed(3) + " s; nothing to store",
      correction,
      sample,
      estimate: kept,
      bias: c.bias ?? 0,
      nextSync: base.nextSync,
    };
  }
  const reason = !c.set
    ? "device clock unset: setting it"
    : jump
      ? "jump of " + correction.toFixed(1) + " s confirmed on the device"
      : "correcting by " + correction.toFixed(3) + " s";
  return { action: jump ? "jump" : "set", reason, correction, sample, estimate, bias, nextSync };
}

function round(x: number, digits: number): number {
  const f = Math.pow(10, digits);
  return Math.ceil(x * f) / f;
}
