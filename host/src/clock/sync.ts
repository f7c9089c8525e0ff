// One sync of the device clock from the host's: measure, plan (policy.ts), store time + drift estimate +
// bias on the device in one `settime` (one Storage write), then measure again to report what is left.
// `autoSync` is what the daemon calls on connect and then when `nextSync` says.
import { ERR, type SetTimeData } from "../../../protocol/index.ts";
import { checkHostClock, hostClockWarning, type HostClockStatus } from "./host-clock.ts";
import { measureOffset, type Measurement } from "./measure.ts";
import { planSync, type SyncOptions, type SyncPlan } from "./policy.ts";
import { systemClock, type ClockPort, type HostClock } from "./types.ts";

export interface SyncRunOptions extends SyncOptions {
  exchanges?: number;
  now?: HostClock;
  /** The host clock's status; looked up with timedatectl when absent. Pass null to skip the check. */
  hostClock?: HostClockStatus | null;
  /** Measure again after setting (default true). */
  verify?: boolean;
  /** Called with the plan before anything is sent (e.g. to ask for the button on a jump). */
  onPlan?: (plan: SyncPlan) => void;
}

export interface SyncReport {
  plan: SyncPlan;
  before: Measurement;
  /** The device's answer to settime, when one was sent. */
  set: SetTimeData | null;
  /** A measurement right after the set (verify), or null. */
  after: Measurement | null;
  hostClock: HostClockStatus | null;
  warnings: string[];
}

export async function syncClock(port: ClockPort, opts: SyncRunOptions = {}): Promise<SyncReport> {
  const now = opts.now ?? systemClock;
  const hostClock = opts.hostClock === undefined ? await checkHostClock() : opts.hostClock;
  const warnings: string[] = [];
  const hw = hostClock ? hostClockWarning(hostClock) : null;
  if (hw) warnings.push(hw);
  const before = await measureOffset(port, { exchanges: opts.exchanges, now });
  const noLearn = opts.noLearn ?? (hostClock && hostClock.synchronized === false ? "host clock not synchronised" : null);
  const plan = planSync(before, { ...opts, noLearn });
  opts.onPlan?.(plan);
  if (plan.action === "refuse" || plan.action === "discard" || plan.action === "skip") {
    return { plan, before, set: null, after: null, hostClock, warnings };
  }
  if (plan.estimate.restarted) warnings.push("The drift estimate disagreed with this sync and was restarted from it.");
  const est = plan.estimate;
  // The device applies t somewhere within the round trip; half of the best one is the NTP estimate, and
  // the bias (≥ that half) keeps the code clock behind even when the device applies it at once.
  const args = {
    t: now() + before.rtt / 2,
    ppm: round(est.ppm, 4),
    err: Math.min(1000, Math.max(1e-4, round(est.err, 4))),
    samples: est.samples,
    bias: plan.bias,
    // with --force the device may also ask for a press below the bound (a forward move faster than any
    // drift since its last set); without it, it answers E_JUMP
    ...(plan.action === "jump" || opts.force ? { force: true } : {}),
  };
  let set: SetTimeData;
  try {
    set = await port.setTime(args);
  } catch (e) {
    // a device that lost its clock (STM32 power cut) while holding slots takes any time as a jump: without
    // --force it answers E_JUMP, or a hostile host could power-cycle it and name a future time
    if (before.device.set || (e as { code?: unknown }).code !== ERR.JUMP) throw e;
    const reason =
      "the device lost its clock (a power cut, or never set) and holds slots: setting it needs `hwtotp time sync " +
      "--force` and a press on the device";
    return {
      plan: { ...plan, action: "refuse", reason, lost: true, sample: { ok: false, reason: "jump", interval: null } },
      before,
      set: null,
      after: null,
      hostClock,
      warnings,
    };
  }
  const after = opts.verify === false ? null : await measureOffset(port, { exchanges: opts.exchanges, now });
  return { plan, before, set, after, hostClock, warnings };
}

export interface AutoSyncResult {
  ok: boolean;
  report: SyncReport | null;
  /** When to call again, ms. */
  nextMs: number;
  warnings: string[];
}

/**
 * For the daemon: sync within the bound (never forces a jump), never throws. Call it on connect and then
 * after `nextMs`. `interval` caps the period (default 3 days); a board not yet measured is synced sooner.
 */
export async function autoSync(port: ClockPort, opts: SyncRunOptions = {}): Promise<AutoSyncResult> {
  try {
    const report = await syncClock(port, { ...opts, force: false, verify: false });
    const failed = report.plan.action === "refuse" || report.plan.action === "discard";
    // a lost clock is the caller's to say (once: createClockKeeper), not a warning at every retry
    const warnings = failed && !report.plan.lost ? [...report.warnings, capitalise(report.plan.reason) + "."] : report.warnings;
    return { ok: !failed, report, nextMs: Math.round(report.plan.nextSync * 1000), warnings };
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    return { ok: false, report: null, nextMs: 600_000, warnings: ["Clock sync failed: " + m] };
  }
}

function round(x: number, digits: number): number {
  const f = Math.pow(10, digits);
  return Math.round(x * f) / f;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.substring(1);
}
