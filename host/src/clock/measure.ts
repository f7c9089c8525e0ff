// NTP-style offset of the device clock against the host's (RFC 5905 §8 on-wire, one server, no filter
// history): several `time` exchanges, keep the one with the smallest round trip; its offset is the device
// time minus the host midpoint, its uncertainty half the round trip (the reply may have been stamped at
// any instant between send and receive) plus the resolution of the two clocks read. The round trip is
// timed on the host's monotonic clock (hrtime, ns), the midpoint on its microsecond wall clock: with
// Date.now() (1 ms) a 0.5 ms USB or TCP exchange measured as 0 and the offset looked exact.
import type { ClockData, HelloData } from "../../../protocol/index.ts";
import { HOST_RESOLUTION, monoClock, systemClock, type ClockPort, type HostClock, type MonoClock } from "./types.ts";

export const DEFAULT_EXCHANGES = 8;

/**
 * Resolution of the device's getTime(), s, by process.env.BOARD (the hello's `board`). nRF52 boards (Puck.js,
 * Pixl.js, Bangle.js…) count the RTC at 32768 Hz; STM32 boards (Pico, Original) at 32768 Hz (LSE) or ~40 kHz
 * (LSI) — one tick of 32768 Hz covers both; the Linux build reads the host's clock (µs).
 */
export const DEVICE_RESOLUTION: Record<string, number> = { LINUX: 1e-6 };
export const DEFAULT_DEVICE_RESOLUTION = 1 / 32768;

export function deviceResolution(board: string | null | undefined): number {
  return (board && DEVICE_RESOLUTION[board]) || DEFAULT_DEVICE_RESOLUTION;
}

export interface Measurement {
  /** Device code clock (the time codes are computed at) minus host time, s. Negative: device behind. */
  offset: number;
  /** Drift-corrected device clock (code clock + bias) minus host time, s: what a sync corrects. */
  clockOffset: number;
  /** Half the round trip of the exchange kept plus the clocks' resolution, s: the offset is right to within this. */
  uncertainty: number;
  /** Round trip of the exchange kept, s. */
  rtt: number;
  /** Resolution floor included in the uncertainty (device tick + host tick), s. */
  resolution: number;
  /** Exchanges made. */
  exchanges: number;
  /** Host time at the midpoint of the exchange kept. */
  host: number;
  /** The device's reply in the exchange kept. */
  device: ClockData;
}

export interface MeasureOptions {
  exchanges?: number;
  /** Host wall clock. When given without `mono` (virtual time in tests), round trips are timed with it too. */
  now?: HostClock;
  /** Monotonic clock the round trip is timed with. */
  mono?: MonoClock;
  /** Device getTime() resolution, s (default: by the session's board, see DEVICE_RESOLUTION). */
  deviceResolution?: number;
  /** Host clock resolution, s (default HOST_RESOLUTION; 0 for virtual time). */
  hostResolution?: number;
}

export async function measureOffset(port: ClockPort, opts: MeasureOptions = {}): Promise<Measurement> {
  const n = opts.exchanges ?? DEFAULT_EXCHANGES;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError("exchanges must be a whole number from 1 to 64, not " + n);
  const now = opts.now ?? systemClock;
  const mono = opts.mono ?? (opts.now ? opts.now : monoClock);
  const info = (port as { info?: HelloData | null }).info;
  const resolution = (opts.deviceResolution ?? deviceResolution(info ? info.board : null)) + (opts.hostResolution ?? HOST_RESOLUTION);
  let best: Measurement | null = null;
  for (let i = 0; i < n; i++) {
    const wall = now();
    const sent = mono();
    const d = await port.time();
    const rtt = Math.max(0, mono() - sent);
    if (best !== null && rtt >= best.rtt) continue;
    const host = wall + rtt / 2;
    const bias = d.bias ?? 0;
    best = {
      offset: d.t - host,
      clockOffset: d.t + bias - host,
      uncertainty: rtt / 2 + resolution,
      rtt,
      resolution,
      exchanges: n,
      host,
      device: d,
    };
  }
  return best as Measurement;
}
