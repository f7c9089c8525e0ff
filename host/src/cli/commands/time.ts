// hwtotp time [sync]: the device clock against the host's, corrected for the round trip (best of several
// exchanges, NTP-style); `sync` sets it. The clock engineer (issue 6) extends this with drift learning.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, withSession } from "../context.ts";
import type { Session } from "../../session.ts";

export interface ClockReading {
  /** Device effective time minus host time at the midpoint of the exchange, seconds. */
  offset: number;
  /** Half the round trip: the offset is known to ± this, seconds. */
  uncertainty: number;
  rtt: number;
  device: import("../../../../protocol/index.ts").ClockData;
}

/** Several time exchanges; keeps the one with the smallest round trip. */
export async function measureClock(s: Session, exchanges = 4): Promise<ClockReading> {
  let best: ClockReading | null = null;
  for (let i = 0; i < exchanges; i++) {
    const t0 = Date.now();
    const d = await s.time();
    const t1 = Date.now();
    const rtt = (t1 - t0) / 1000;
    const r = { offset: d.t - (t0 + t1) / 2000, uncertainty: rtt / 2, rtt, device: d };
    if (!best || r.rtt < best.rtt) best = r;
  }
  return best!;
}

function human(r: ClockReading): string {
  const d = r.device;
  if (!d.set) return "Device clock: not set. Run `hwtotp time sync`.";
  return [
    "Device time: " + new Date(d.t * 1000).toISOString(),
    "Offset:      " + (r.offset >= 0 ? "+" : "") + r.offset.toFixed(3) + " s ± " + r.uncertainty.toFixed(3) + " s (device minus host; round trip " + (r.rtt * 1000).toFixed(1) + " ms)",
    "Drift:       " + d.ppm + " ppm correction, from " + d.samples + " sync" + (d.samples === 1 ? "" : "s"),
    "Last sync:   " + (d.synced ? new Date(d.synced * 1000).toISOString() : "never"),
  ].join("\n");
}

export function register(program: Command): void {
  const time = addCommonOptions(
    program.command("time").description("compare the device clock with this host's (see `time sync`)"),
  ).action(async (opts: CommonOptions) => {
    await withSession(opts, async (s) => {
      const r = await measureClock(s);
      output(opts, r, () => human(r));
    });
  });
  addCommonOptions(
    time.command("sync").description("set the device clock from this host's").option("--force", "allow a large jump (the device may ask for a button press)"),
  ).action(async (opts: CommonOptions & { force?: boolean }) => {
    await withSession(opts, async (s) => {
      const before = await measureClock(s, 3);
      const d = await s.setTime({ t: Date.now() / 1000, ...(opts.force ? { force: true } : {}) });
      const after = await measureClock(s, 3);
      const result = { before: before.offset, after: after.offset, uncertainty: after.uncertainty, set: d };
      output(opts, result, () =>
        "Device clock set: it was " + before.offset.toFixed(3) + " s off, now " + after.offset.toFixed(3) + " s ± " + after.uncertainty.toFixed(3) + " s.",
      );
    });
  });
}
