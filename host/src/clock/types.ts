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

export const systemClock: HostClock = () => Date.now() / 1000;

/** Waits `seconds` of host time. Tests on virtual time pass their own. */
export type Sleeper = (seconds: number) => Promise<void>;

export const realSleep: Sleeper = (s) => new Promise((r) => setTimeout(r, Math.max(0, s * 1000)));
