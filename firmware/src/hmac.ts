// HMAC (RFC 2104) over a hash that returns an ArrayBuffer: Espruino's require("crypto").SHA1/SHA256/SHA512,
// or the JS SHA-1 when the board has no crypto module (chosen by feature detection). Espruino has no native
// HMAC, so the inner and outer pads are precomputed once per slot and stored; a code costs two hashes.
import { ALGORITHMS } from "../../protocol/index.ts";
import { sha1 } from "./sha1.ts";

export type Hash = (data: Uint8Array) => ArrayBuffer;

/** The part of Espruino's crypto module we use; every member is optional (boards differ). */
export interface CryptoLike {
  [alg: string]: ((data: Uint8Array) => ArrayBuffer) | undefined;
}

export interface Hashes {
  [alg: string]: Hash | undefined;
}

/** Block size in bytes per hash (RFC 2104 §2 "B"): 64 for SHA-1 and SHA-256, 128 for SHA-512. */
export function blockSize(alg: string): number {
  return alg === "SHA512" ? 128 : 64;
}

/**
 * Hashes this board can compute: native where present, the JS SHA-1 otherwise. Espruino's crypto functions
 * are static natives and need no `this`, so they are stored as they are.
 */
export function detectHashes(c: CryptoLike | undefined): Hashes {
  const out: Hashes = { SHA1: sha1 };
  for (let k = 0; c && k < ALGORITHMS.length; k++) {
    const f = c[ALGORITHMS[k]];
    if (typeof f === "function") out[ALGORITHMS[k]] = f;
  }
  return out;
}

/** Inner and outer pads in one array (ipad: bytes 0..B-1, opad: B..2B-1), both built in one loop. */
export function makePads(hash: Hash, b: number, key: Uint8Array): Uint8Array {
  let k = key;
  if (k.length > b) k = new Uint8Array(hash(k));
  const p = new Uint8Array(2 * b);
  for (let i = 0; i < b; i++) {
    const x = i < k.length ? k[i] : 0;
    p[i] = x ^ 0x36;
    p[b + i] = x ^ 0x5c;
  }
  return p;
}

/** HMAC(K, msg) = H(K^opad || H(K^ipad || msg)) from precomputed pads. */
export function hmacWithPads(hash: Hash, b: number, pads: Uint8Array, msg: Uint8Array): Uint8Array {
  const inner = new Uint8Array(b + msg.length);
  inner.set(pads.subarray(0, b), 0);
  inner.set(msg, b);
  const ih = new Uint8Array(hash(inner));
  const outer = new Uint8Array(b + ih.length);
  outer.set(pads.subarray(b, 2 * b), 0);
  outer.set(ih, b);
  return new Uint8Array(hash(outer));
}
