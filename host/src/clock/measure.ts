// NTP-style offset of the device clock against the host's (RFC 5905 §8 on-wire, one server, no filter
// history): several `time` exchanges, keep the one with the smallest round trip; its offset is the device
// time minus the host midpoint, its uncertainty half the round trip (the reply may have been stamped at
// any instant between send and receive).
import type { ClockData } from "../../../protocol/index.ts";
import { systemClock, type ClockPort, type HostClock } from "./types.ts";

export const DEFAULT_EXCHANGES = 8;

export interface Measurement {
  /** Device code clock (the time codes are computed at) minus host time, s. Negative: device behind. */
  offset: number;
  /** Drift-corrected device clock (code clock + bias) minus host time, s: what a sync corrects. */
  clockOffset: number;
  /** Half the round trip of the exchange kept, s: the offset is right to within this. */
  uncertainty: number;
  /** Round trip of the exchange kept, s. */
  rtt: number;
  /** Exchanges made. */
  exchanges: number;
  /** Host time at the midpoint of the exchange kept. */
  host: number;
  /** The device's reply in the exchange kept. */
  device: ClockData;
}

export interface MeasureOptions {
  exchanges?: number;
  now?: HostClock;
}

export async function measureOffset(port: ClockPort, opts: MeasureOptions = {}): Promise<Measurement> {
  const n = opts.exchanges ?? DEFAULT_EXCHANGES;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError("exchanges must be a whole number from 1 to 64, not " + n);
  const now = opts.now ?? systemClock;
  let best: Measurement | null = null;
  for (let i = 0; i < n; i++) {
    const sent = now();
    const d = await port.time();
    const received = now();
    const rtt = Math.max(0, received - sent);
    if (best !== null && rtt >= best.rtt) continue;
    const host = (sent + received) / 2;
    const bias = d.bias ?? 0;
    best = { offset: d.t - host, clockOffset: d.t + bias - host, uncertainty: rtt / 2, rtt, exchanges: n, host, device: d };
  }
  return best as Measurement;
}
