// The daemon's clock keeper: syncs on every (re)connect and then whenever the policy says the next sync is
// due (sooner for a board whose drift is not learnt yet, at most every `interval`), within the jump bound
// (never forces a jump: that needs `hwtotp time sync --force` and a press), and logs a line per sync with
// any warning (host clock unsynchronised, jump refused, measurement discarded); a clock lost to a power cut
// is said once, not at every retry.
import { autoSync } from "./sync.ts";
import type { ClockPort, HostClock } from "./types.ts";
import { POLICY } from "./policy.ts";
import type { HostClockStatus } from "./host-clock.ts";

export interface ClockKeeperOptions {
  log: (line: string) => void;
  /** Longest time between syncs, s (default 3 days). */
  interval?: number;
  maxJump?: number;
  now?: HostClock;
  /** Host clock status to use instead of asking timedatectl (tests). */
  hostClock?: HostClockStatus | null;
}

export interface ClockKeeper {
  /** Give it to the daemon's onConnect: syncs with the fresh session; never throws. */
  onConnect(port: ClockPort): Promise<void>;
  /** How to reach the device later, inside the daemon's one-request-at-a-time queue. */
  attach(withDevice: (fn: (port: ClockPort) => Promise<void>) => Promise<void>): void;
  /** Delay until the next periodic sync, ms, or null when none is scheduled. */
  nextMs(): number | null;
  stop(): void;
}

export function createClockKeeper(opts: ClockKeeperOptions): ClockKeeper {
  let timer: NodeJS.Timeout | null = null;
  let due: number | null = null;
  let withDevice: ((fn: (port: ClockPort) => Promise<void>) => Promise<void>) | null = null;
  let stopped = false;
  let lostSaid = false;
  const stamp = () => new Date().toISOString();

  const schedule = (ms: number) => {
    if (timer) clearTimeout(timer);
    timer = null;
    due = null;
    if (stopped || !withDevice) return;
    due = Date.now() + ms;
    timer = setTimeout(
      () => {
        timer = null;
        due = null;
        withDevice!((port) => sync(port)).catch((e: unknown) => {
          opts.log(stamp() + " clock: periodic sync skipped: " + (e instanceof Error ? e.message : String(e)));
          // the next connect syncs and reschedules; meanwhile try again later
          schedule(POLICY.MIN_INTERVAL * 1000);
        });
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    timer.unref();
  };

  const sync = async (port: ClockPort) => {
    const r = await autoSync(port, { interval: opts.interval, maxJump: opts.maxJump, now: opts.now, hostClock: opts.hostClock });
    if (r.report?.plan.lost) {
      // an STM32 power cut with slots on the device: only a press can set it. Said once (until the clock is
      // set again); later syncs retry quietly at the usual pace, and codes answer E_CLOCK meanwhile.
      for (const w of r.warnings) opts.log(stamp() + " clock: warning: " + w);
      if (!lostSaid)
        opts.log(
          stamp() +
            " clock: the device lost its clock (power loss): codes are refused (E_CLOCK) until `hwtotp time sync " +
            "--force` with a press on the device",
        );
      lostSaid = true;
      schedule(r.nextMs);
      return;
    }
    if (r.report) lostSaid = false;
    for (const w of r.warnings) opts.log(stamp() + " clock: warning: " + w);
    if (r.report) {
      const p = r.report.plan;
      const e = p.estimate;
      opts.log(
        stamp() +
          " clock: " +
          p.action +
          " (" +
          p.reason +
          "); offset was " +
          r.report.before.clockOffset.toFixed(3) +
          " s ± " +
          r.report.before.uncertainty.toFixed(3) +
          " s; drift " +
          (e.samples ? e.ppm.toFixed(2) + " ± " + e.err.toFixed(2) + " ppm from " + e.samples + " samples" : "not learnt yet") +
          "; next sync in " +
          Math.round(r.nextMs / 1000) +
          " s",
      );
    }
    schedule(r.nextMs);
  };

  return {
    onConnect: (port) => sync(port).catch(() => {}),
    attach(fn) {
      withDevice = fn;
    },
    nextMs: () => (due === null ? null : Math.max(0, due - Date.now())),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      due = null;
    },
  };
}
