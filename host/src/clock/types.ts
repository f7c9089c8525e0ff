// What the clock code needs from a device: the `time` and `settime` ops (host/src/session.ts's Session fits),
// and the host clock it measures against, injectable so tests run on virtual time.
import type { ClockData, CodeData, SetTimeData } from "../../../protocol/index.ts";

/** Arguments of `settime` (protocol/index.ts validateArgs): t is the drift-corrected time to set. */
export interface ClockSetArgs {
  t: number;
  ppm?: number;
  force?: boolean;
  /** Seconds the code clock is held behind the corrected clock (never-ahead margin for Keystone). */
  bias?: number;
  /** Syncs the drift estimate rests on. */
  samples?: number;
  /** One-sigma uncertainty of the drift estimate, ppm. */
  err?: number;
}

export interface ClockPort {
  time(): Promise<ClockData>;
  setTime(a: ClockSetArgs): Promise<SetTimeData>;
}

export interface CodePort {
  code(name?: string): Promise<CodeData>;
}

/** Unix seconds (float) of the host's clock. */
export type HostClock = () => number;

/** Monotonic seconds (float, any origin): what a round trip is timed with. */
export type MonoClock = () => number;

/** Resolution of the host clocks below, s: hrtime and performance.now() count at least microseconds in Node. */
export const HOST_RESOLUTION = 1e-6;

// Wall time to the microsecond: the process's high-resolution start time plus the monotonic clock since, kept
// within Date.now()'s millisecond (a stepped or slewed system clock re-anchors it). Date.now() floors, so
// the wall time lies in [Date.now(), Date.now() + 1) ms; the slack allows for the two reads a few µs apart.
let anchor = performance.timeOrigin;

export const systemClock: HostClock = () => {
  const wall = Date.now();
  let ms = anchor + performance.now();
  if (ms < wall - 0.5 || ms > wall + 1.5) {
    anchor += wall + 0.5 - ms;
    ms = wall + 0.5;
  }
  return ms / 1000;
};

const monoBase = process.hrtime.bigint();
export const monoClock: MonoClock = () => Number(process.hrtime.bigint() - monoBase) / 1e9;

/** Waits `seconds` of host time. Tests on virtual time pass their own. */
export type Sleeper = (seconds: number) => Promise<void>;

export const realSleep: Sleeper = (s) => new Promise((r) => setTimeout(r, Math.max(0, s * 1000)));
