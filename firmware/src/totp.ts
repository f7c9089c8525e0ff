// HOTP (RFC 4226 §5) and TOTP (RFC 6238 §4) over precomputed HMAC pads. Pure: the key and the counter (or
// time) come in as arguments; the clock lives in clock.ts. The 8-byte counter is built in doubles (division by
// 2^32), never with 32-bit shifts, so counters above 2^32 are right.
import { hmacWithPads, type Hash } from "./hmac.ts";

export interface HmacKey {
  h: Hash;
  b: number;
  p: Uint8Array;
}

export function counterAt(t: number, period: number): number {
  return Math.floor(t / period);
}

export function computeHotp(key: HmacKey, counter: number, digits: number): string {
  const msg = new Uint8Array(8);
  const hi = Math.floor(counter / 4294967296);
  let lo = counter - hi * 4294967296;
  let h = hi;
  for (let i = 3; i >= 0; i--) {
    msg[i] = h % 256;
    h = Math.floor(h / 256);
    msg[i + 4] = lo % 256;
    lo = Math.floor(lo / 256);
  }
  const mac = hmacWithPads(key.h, key.b, key.p, msg);
  const o = mac[mac.length - 1] & 15;
  const bin = (mac[o] & 127) * 16777216 + mac[o + 1] * 65536 + mac[o + 2] * 256 + mac[o + 3];
  const s = "00000000" + (bin % (digits === 8 ? 100000000 : 1000000));
  return s.substring(s.length - digits);
}

export function computeTotp(key: HmacKey, t: number, period: number, digits: number): string {
  return computeHotp(key, counterAt(t, period), digits);
}
