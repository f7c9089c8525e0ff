// What `hwtotp time [--json]` and `hwtotp time sync` print. The JSON fields are documented in docs/clock.md
// ("hwtotp time --json"); keep the two in step.
import type { HostClockStatus } from "./host-clock.ts";
import type { Measurement } from "./measure.ts";
import type { SyncReport } from "./sync.ts";

export interface TimeJson {
  set: boolean;
  device: number | null;
  host: number;
  offset: number | null;
  clockOffset: number | null;
  uncertainty: number;
  rtt: number;
  resolution: number;
  exchanges: number;
  bias: number;
  ppm: number;
  ppmErr: number | null;
  samples: number;
  lastSync: string | null;
  sinceSync: number | null;
  raw: number;
  up: boolean | null;
  hostClock: HostClockStatus | null;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const r6 = (x: number) => Math.round(x * 1e6) / 1e6;

export function timeJson(m: Measurement, hostClock: HostClockStatus | null): TimeJson {
  const d = m.device;
  const synced = d.set && typeof d.synced === "number" ? d.synced : null;
  return {
    set: d.set,
    device: d.set ? r3(d.t) : null,
    host: r3(m.host),
    offset: d.set ? r6(m.offset) : null,
    clockOffset: d.set ? r6(m.clockOffset) : null,
    uncertainty: r6(m.uncertainty),
    rtt: r6(m.rtt),
    resolution: r6(m.resolution),
    exchanges: m.exchanges,
    bias: d.bias ?? 0,
    ppm: d.ppm,
    ppmErr: d.samples > 0 && typeof d.err === "number" ? d.err : null,
    samples: d.samples,
    lastSync: synced !== null ? new Date(synced * 1000).toISOString() : null,
    sinceSync: synced !== null ? Math.round(m.host - synced) : null,
    raw: r3(d.raw),
    up: typeof d.up === "boolean" ? d.up : null,
    hostClock,
  };
}

function signed(x: number, digits = 3): string {
  return (x >= 0 ? "+" : "") + x.toFixed(digits);
}

function ago(s: number): string {
  if (s < 120) return Math.round(s) + " s ago";
  if (s < 7200) return Math.round(s / 60) + " min ago";
  if (s < 172800) return (s / 3600).toFixed(1) + " h ago";
  return (s / 86400).toFixed(1) + " days ago";
}

export function timeHuman(j: TimeJson): string {
  const lines: string[] = [];
  if (!j.set) {
    lines.push("Device clock: not set (codes are refused). Run `hwtotp time sync`.");
  } else {
    lines.push("Device time:  " + new Date((j.device as number) * 1000).toISOString() + " (the time codes are computed at)");
    lines.push(
      "Offset:       " +
        signed(j.offset as number) +
        " s ± " +
        j.uncertainty.toFixed(6) +
        " s, device minus host (round trip " +
        (j.rtt * 1000).toFixed(3) +
        " ms, best of " +
        j.exchanges +
        ")",
    );
    lines.push("Bias:         " + j.bias.toFixed(3) + " s held behind on purpose (clock error " + signed(j.clockOffset as number) + " s)");
  }
  lines.push(
    "Drift:        " +
      (j.samples > 0
        ? signed(j.ppm, 2) + " ppm ± " + (j.ppmErr ?? 0).toFixed(2) + ", from " + j.samples + " sync" + (j.samples === 1 ? "" : "s")
        : "not learnt yet (" + signed(j.ppm, 2) + " ppm applied)"),
  );
  lines.push(
    "Last sync:    " +
      (j.lastSync
        ? j.lastSync +
          " (" +
          ago(j.sinceSync as number) +
          ")" +
          (j.up === false ? "; the device restarted since (the next sync learns no drift)" : "")
        : "never"),
  );
  if (j.hostClock && j.hostClock.synchronized === false)
    lines.push("Warning:      the host clock is not synchronised (" + j.hostClock.source + ").");
  return lines.join("\n");
}

export interface SyncJson {
  action: string;
  reason: string;
  correction: number;
  jump: boolean;
  before: TimeJson;
  after: TimeJson | null;
  drift: {
    ppm: number;
    err: number;
    samples: number;
    sample: { ppm: number; err: number; interval: number } | null;
    discarded: string | null;
    restarted: boolean;
  };
  bias: number;
  nextSync: number;
  warnings: string[];
}

export function syncJson(r: SyncReport): SyncJson {
  const s = r.plan.sample;
  return {
    action: r.plan.action,
    reason: r.plan.reason,
    correction: r6(r.plan.correction),
    jump: r.plan.action === "jump",
    before: timeJson(r.before, r.hostClock),
    after: r.after ? timeJson(r.after, r.hostClock) : null,
    drift: {
      ppm: r6(r.plan.estimate.ppm),
      err: r6(r.plan.estimate.err),
      samples: r.plan.estimate.samples,
      sample: s.ok ? { ppm: r6(s.ppm), err: r6(s.err), interval: Math.round(s.interval) } : null,
      discarded: s.ok ? null : s.reason,
      restarted: !!r.plan.estimate.restarted,
    },
    bias: r.plan.bias,
    nextSync: Math.round(r.plan.nextSync),
    warnings: r.warnings,
  };
}

export function syncHuman(j: SyncJson): string {
  const lines: string[] = [];
  if (j.action === "skip")
    lines.push(
      "Device clock is right (" + signed(j.before.clockOffset ?? 0) + " s ± " + j.before.uncertainty.toFixed(3) + " s): nothing changed.",
    );
  else if (j.action === "set" || j.action === "jump") {
    lines.push(
      (j.before.set
        ? "Device clock corrected by " + signed(j.correction) + " s" + (j.jump ? " (jump, confirmed on the device)" : "")
        : "Device clock set") +
        (j.after && j.after.offset !== null
          ? "; now " + signed(j.after.offset) + " s ± " + j.after.uncertainty.toFixed(3) + " s (bias " + j.bias.toFixed(3) + " s)."
          : "."),
    );
    lines.push(
      "Drift:        " +
        (j.drift.samples > 0
          ? signed(j.drift.ppm, 2) +
            " ppm ± " +
            j.drift.err.toFixed(2) +
            " from " +
            j.drift.samples +
            " sync" +
            (j.drift.samples === 1 ? "" : "s")
          : "not learnt yet") +
        (j.drift.discarded ? " (this sync not used: " + j.drift.discarded + ")" : ""),
    );
    lines.push("Next sync due in " + ago(j.nextSync).replace(" ago", "") + ".");
  }
  return lines.join("\n");
}
