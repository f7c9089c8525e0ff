// Seeds at rest under a PIN: key stretching, random bytes and the keystream that seals a slot's HMAC pads.
// Stretch (PIN + per-device salt -> key): native PBKDF2 (RFC 8018 §5.2) where the board has it, else an
// iterated HMAC (RFC 2104) chain on the board's native hash. Seal: pads XOR H(key || nonce || counter) blocks
// (a hash in counter mode, nonce per record), so the same function seals and unseals.
import { hmacWithPads, makePads, type Hash } from "./hmac.ts";

/** Iterations per stretch method: native PBKDF2, an HMAC chain on a native hash, or on the JS SHA-1. */
export const ITER_PBKDF2 = 10000;
export const ITER_HMAC = 500;
export const ITER_JS = 16;

/** A stretch as the PIN record stores it: m "p" native PBKDF2 or "h" HMAC chain, a its hash, i iterations. */
export interface Stretch {
  m: string;
  a: string;
  i: number;
}

export function bytesOf(s: string): Uint8Array {
  const u = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
  return u;
}

export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substring(2 * i, 2 * i + 2), 16);
  return out;
}

/** H(a || n), n as 2 bytes: a is a fixed-length key, so no length extension reaches a secret. */
export function hashOf(h: Hash, a: Uint8Array, n: number): Uint8Array {
  const m = new Uint8Array(a.length + 2);
  m.set(a, 0);
  m[a.length] = n >> 8;
  m[a.length + 1] = n & 255;
  const out = new Uint8Array(h(m));
  m.fill(0);
  return out;
}

/** n random bytes: the board's noise (E.hwRand) and its clock, hashed (the Linux build's hwRand repeats). */
export function randomBytes(h: Hash, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let k = 0; k < n;) {
    const r = new Uint8Array(h(bytesOf(E.hwRand() + " " + E.hwRand() + " " + getTime() + " " + k)));
    for (let j = 0; j < r.length && k < n; j++) out[k++] = r[j];
  }
  return out;
}

/** PIN + salt -> key (the hash's output length): PBKDF2 natively, or the HMAC chain U_n = HMAC(PIN, U_n-1). */
export function stretchPin(crypto: unknown, h: Hash, s: Stretch, pin: string, salt: Uint8Array): Uint8Array {
  if (s.m === "p") {
    const c = crypto as { PBKDF2: (p: string, s: Uint8Array, o: { keySize: number; iterations: number; hasher: string }) => ArrayBuffer };
    return new Uint8Array(c.PBKDF2(pin, salt, { keySize: s.a === "SHA256" ? 8 : 5, iterations: s.i, hasher: s.a }));
  }
  const pk = bytesOf(pin);
  const pads = makePads(h, 64, pk);
  pk.fill(0);
  let u = hmacWithPads(h, 64, pads, salt);
  for (let k = 1; k < s.i; k++) {
    const v = hmacWithPads(h, 64, pads, u);
    u.fill(0);
    u = v;
  }
  pads.fill(0);
  return u;
}

/**
 * XORs `data` in place with the keystream H(key || nonce || block number), 32 bits at a time (data's length
 * a multiple of 4 at offset 0 of its buffer, as pads are; both views share the board's byte order).
 */
export function sealBytes(h: Hash, key: Uint8Array, nonce: Uint8Array, data: Uint8Array): void {
  const m = new Uint8Array(key.length + nonce.length + 2);
  m.set(key, 0);
  m.set(nonce, key.length);
  const c = m.length - 2;
  const w = new Uint32Array(data.buffer, data.byteOffset, data.length >> 2);
  for (let k = 0, blk = 0; k < w.length; blk++) {
    m[c] = blk >> 8;
    m[c + 1] = blk & 255;
    const s = new Uint32Array(h(m));
    for (let j = 0; j < s.length && k < w.length; j++) w[k++] ^= s[j];
  }
  m.fill(0);
}
