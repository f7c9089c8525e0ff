// The optional PIN (after Nitrokey's secrets app): a record "hwt.p" with the tries left and the stretch in its
// header, and salt (16 bytes) || verifier H(K || 1) || data key XOR H(K || 2) in its body (seal.ts hashOf), K the PIN-derived key.
// The counter is decremented and persisted before the comparison, the comparison is constant-time, a success
// restores it, and the last wrong try wipes every slot and the PIN. Unlocked = the data key in RAM (lost on
// reset, power loss, lock, idle time). Setting or clearing the PIN reseals every slot (store.ts
// resealSlots); changing it rewraps the data key only. A power cut while slots are resealed leaves the PIN
// set and some slots plain: the next unlock seals them again (every slot reads back old or new).
import { LIMITS, type PinState } from "../../protocol/index.ts";
import type { Hash, Hashes } from "./hmac.ts";
import { eraseRecord, readBody, readHead, scanRecord, writeRecord, type RecHead } from "./record.ts";
import { hashOf, ITER_HMAC, ITER_JS, ITER_PBKDF2, randomBytes, stretchPin, type Stretch } from "./seal.ts";
import { resealSlots, setSealKey, wipeSlots } from "./store.ts";

const BASE = "hwt.p";

/** Header fields: r tries left, m/a/i the stretch (seal.ts Stretch), d idle seconds. */
let rec: RecHead | null = null;
let file = "";
let dek: Uint8Array | null = null;
let hashes: Hashes = {};
let crypto: unknown;
let timer = 0;

function hashFor(name: string): Hash {
  return (hashes[name] || hashes.SHA1) as Hash;
}

function save(r: { [k: string]: unknown }, b: Uint8Array): boolean {
  const f = writeRecord(BASE, file, r, b);
  b.fill(0);
  if (!f) return false;
  file = f;
  rec = readHead(f);
  return true;
}

/** Erases the PIN record (scrubbed), and with `all` every slot too (the last wrong try). */
function drop(all: boolean): void {
  lock();
  if (all) wipeSlots();
  eraseRecord(BASE);
  rec = null;
  file = "";
}

export function loadPin(c: unknown, h: Hashes): void {
  crypto = c;
  hashes = h;
  rec = scanRecord(BASE);
  file = rec ? rec.w : "";
  if (rec && !((rec.r as number) > 0)) drop(true);
}

export function locked(): boolean {
  return rec !== null && dek === null;
}

export function pinState(): PinState {
  return { set: rec !== null, locked: locked(), tries: rec ? (rec.r as number) : LIMITS.PIN_TRIES, idle: rec ? (rec.d as number) : 0 };
}

export function lock(): void {
  if (timer) clearTimeout(timer);
  timer = 0;
  if (dek) dek.fill(0);
  dek = null;
  setSealKey(null, null);
}

/** An authorised request while unlocked: the idle time starts again. */
export function touchIdle(): void {
  if (!dek || !rec || !rec.d) return;
  if (timer) clearTimeout(timer);
  timer = setTimeout(
    function () {
      timer = 0;
      lock();
    },
    (rec.d as number) * 1000,
  );
}

/** The header fields of the current record with tries r (stretch and idle kept). */
function head(r: number): { [k: string]: unknown } {
  const x = rec as RecHead;
  return { r: r, m: x.m, a: x.a, i: x.i, d: x.d };
}

/** Stores a record for PIN `pin` wrapping data key k, with a fresh salt, all tries, idle time `idle`. */
function sealRec(pin: string, k: Uint8Array, idle: number): boolean {
  const a = hashes.SHA256 ? "SHA256" : "SHA1";
  const p = crypto && typeof (crypto as { PBKDF2?: unknown }).PBKDF2 === "function";
  const s = { r: LIMITS.PIN_TRIES, m: p ? "p" : "h", a: a, i: p ? ITER_PBKDF2 : crypto ? ITER_HMAC : ITER_JS, d: idle };
  const h = hashFor(a);
  const b = new Uint8Array(16 + 2 * k.length);
  b.set(randomBytes(h, 16), 0);
  const kek = stretchPin(crypto, h, s, pin, b.subarray(0, 16));
  b.set(hashOf(h, kek, 1), 16);
  const w = hashOf(h, kek, 2);
  for (let j = 0; j < k.length; j++) b[16 + k.length + j] = k[j] ^ w[j];
  kek.fill(0);
  w.fill(0);
  return save(s, b);
}

/**
 * Tries a PIN. 1: right (unlocked, tries restored); 0: wrong (a try spent); -1: wrong and the last try (the
 * token wiped itself); -2: the spent try could not be persisted (nothing compared).
 */
export function tryPin(pin: string): number {
  if (!rec) return 1;
  const left = (rec.r as number) - 1;
  const r = head(left);
  // a copy of the record's body (a write erases the file it was read from)
  const b = new Uint8Array(readBody(file, rec) as Uint8Array);
  if (!save(r, new Uint8Array(b))) return -2;
  const h = hashFor(r.a as string);
  const n = (b.length - 16) / 2;
  const kek = stretchPin(crypto, h, r as unknown as Stretch, pin, b.subarray(0, 16));
  const v = hashOf(h, kek, 1);
  let d = 0;
  for (let j = 0; j < n; j++) d |= v[j] ^ b[16 + j];
  if (d) {
    kek.fill(0);
    b.fill(0);
    if (left <= 0) {
      drop(true);
      return -1;
    }
    return 0;
  }
  const w = hashOf(h, kek, 2);
  kek.fill(0);
  lock();
  dek = new Uint8Array(n);
  for (let j = 0; j < n; j++) dek[j] = b[16 + n + j] ^ w[j];
  w.fill(0);
  setSealKey(dek, h);
  save(head(LIMITS.PIN_TRIES), b);
  resealSlots(dek);
  touchIdle();
  return 1;
}

/** Sets a first PIN: a fresh data key, every slot sealed under it, the plain pads scrubbed. False: Storage. */
export function setPin(pin: string, idle: number): boolean {
  const h = hashFor(hashes.SHA256 ? "SHA256" : "SHA1");
  const k = randomBytes(h, hashes.SHA256 ? 32 : 20);
  if (!sealRec(pin, k, idle)) {
    k.fill(0);
    return false;
  }
  dek = k;
  setSealKey(null, h);
  const n = resealSlots(k);
  touchIdle();
  return n >= 0;
}

/** Changes the PIN and idle time (unlocked): the same data key under a new PIN and salt; the old record scrubbed. */
export function changePin(pin: string, idle: number): boolean {
  if (!dek || !sealRec(pin, dek, idle)) return false;
  touchIdle();
  return true;
}

/** Clears the PIN (unlocked): every slot unsealed, then the record erased, and the flash scrubbed. */
export function clearPin(): boolean {
  if (resealSlots(null) < 0) return false;
  drop(false);
  return true;
}
