// HOTP (RFC 4226 §5) and TOTP (RFC 6238 §4) over precomputed HMAC pads. Pure: the key and the counter (or
// time) come in as arguments; the clock lives in clock.ts. The 8-byte counter is built in doubles (% 256 and
// division by 256, exact below 2^53), never with 32-bit shifts, so counters above 2^32 are right.
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
  let c = counter;
  for (let i = 7; i >= 0; i--) {
    msg[i] = c % 256;
    c = Math.floor(c / 256);
  }
  const mac = hmacWithPads(key.h, key.b, key.p, msg);
  const o = mac[mac.length - 1] & 15;
  const bin = (mac[o] & 127) * 16777216 + mac[o + 1] * 65536 + mac[o + 2] * 256 + mac[o + 3];
  const s = "00000000" + (bin % Math.pow(10, digits));
  return s.substring(s.length - digits);
}

export function computeTotp(key: HmacKey, t: number, period: number, digits: number): string {
  return computeHotp(key, counterAt(t, period), digits);
}
