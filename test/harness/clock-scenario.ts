// The 30-day drift scenario of issue 6 §5, on any device that can be fast-forwarded: the daemon's
// auto-sync (on connect, then when it says, at most every `interval`), a check every hour that the code
// the device shows is one Keystone accepts (current or previous step at the true time, checked with
// otpauth), and the effective clock error (code clock minus true time) tracked at every check and just
// before every sync, where it is largest.
import * as OTPAuth from "otpauth";
import { autoSync, type ClockPort } from "../../host/src/clock/index.ts";

export interface ScenarioDevice {
  port: ClockPort;
  /** True time (what the host clock reads), Unix s. */
  trueNow(): number;
  /** Fast-forwards true time; the device's RTC moves by its own drift. */
  advance(seconds: number): Promise<void> | void;
  /** The code the device shows now for the scenario's slot, and the true time at which it computed it. */
  code(): Promise<{ code: string; at: number }>;
  /** The device's code clock minus true time, now (the effective clock error). */
  clockError(): Promise<number>;
}

export interface ScenarioResult {
  worstAhead: number; // largest code clock − true time, s (positive: ahead)
  worstBehind: number; // most negative code clock − true time, s
  checks: number;
  rejected: { at: number; error: number }[];
  syncs: number;
  syncTimes: number[];
  finalPpm: number;
  finalErr: number;
  samples: number;
  maxUncertainty: number;
}

export const SCENARIO_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

export async function runDriftScenario(
  dev: ScenarioDevice,
  opts: { days: number; interval: number; checkEvery?: number },
): Promise<ScenarioResult> {
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(SCENARIO_SECRET), digits: 6, period: 30, algorithm: "SHA1" });
  const checkEvery = opts.checkEvery ?? 3600;
  const start = dev.trueNow();
  const end = start + opts.days * 86400;
  const r: ScenarioResult = {
    worstAhead: -Infinity,
    worstBehind: Infinity,
    checks: 0,
    rejected: [],
    syncs: 0,
    syncTimes: [],
    finalPpm: 0,
    finalErr: 0,
    samples: 0,
    maxUncertainty: 0,
  };
  const track = async () => {
    const e = await dev.clockError();
    r.worstAhead = Math.max(r.worstAhead, e);
    r.worstBehind = Math.min(r.worstBehind, e);
    return e;
  };
  const sync = async () => {
    const a = await autoSync(dev.port, { interval: opts.interval, now: () => dev.trueNow(), hostClock: null });
    if (!a.ok || !a.report) throw new Error("auto-sync failed: " + a.warnings.join(" "));
    r.syncs++;
    r.syncTimes.push(dev.trueNow() - start);
    r.maxUncertainty = Math.max(r.maxUncertainty, a.report.before.uncertainty);
    r.finalPpm = a.report.plan.estimate.ppm;
    r.finalErr = a.report.plan.estimate.err;
    r.samples = a.report.plan.estimate.samples;
    return a.nextMs / 1000;
  };
  let nextSync = dev.trueNow() + (await sync());
  let nextCheck = start + checkEvery;
  while (dev.trueNow() < end) {
    const target = Math.min(nextSync, nextCheck, end);
    await dev.advance(target - dev.trueNow());
    if (dev.trueNow() >= nextSync) {
      await track();
      nextSync = dev.trueNow() + (await sync());
    }
    if (dev.trueNow() >= nextCheck) {
      nextCheck += checkEvery;
      const e = await track();
      const { code, at } = await dev.code();
      const t = at * 1000;
      const accepted = code === totp.generate({ timestamp: t }) || code === totp.generate({ timestamp: t - 30000 });
      r.checks++;
      if (!accepted) r.rejected.push({ at: dev.trueNow() - start, error: e });
    }
  }
  return r;
}

export function describeResult(label: string, r: ScenarioResult): string {
  return (
    label +
    ": worst effective clock error " +
    r.worstBehind.toFixed(3) +
    " s behind / " +
    (r.worstAhead > 0 ? "+" : "") +
    r.worstAhead.toFixed(4) +
    " s ahead; " +
    r.checks +
    " hourly codes, " +
    r.rejected.length +
    " outside Keystone's window; " +
    r.syncs +
    " syncs (first at " +
    r.syncTimes
      .slice(0, 4)
      .map((s) => Math.round(s) + " s")
      .join(", ") +
    ", …); drift learnt " +
    r.finalPpm.toFixed(3) +
    " ± " +
    r.finalErr.toFixed(3) +
    " ppm from " +
    r.samples +
    " samples"
  );
}
