// The slot store: up to MAX_SLOTS slots, each an atomic record (record.ts) "hwt.s<i>" holding the slot's
// settings in its header and the HMAC pads (RFC 2104 K^ipad || K^opad, never the seed itself and never in RAM)
// in its body. RAM keeps each slot's name, which twin file is current (a, b) and that file as Storage returned
// it (a view of flash on the device: no copy), so that list and code need no Storage
// lookup (each is a scan of the file headers). Writes happen on add/delete/wipe, never per code.
// With a PIN set the pads are sealed (seal.ts) under the data key: header e: 1, body nonce (8 bytes) || sealed
// pads; the key is here only while the session is unlocked (setSealKey).
import type { Algorithm, SlotInfo } from "../../protocol/index.ts";
import { drop, eraseRecord, headOf, scanRecord, st, writeRecord, type RecHead } from "./record.ts";
import type { HmacKey } from "./totp.ts";
import type { Hash, Hashes } from "./hmac.ts";
import { randomBytes, sealBytes } from "./seal.ts";

export const MAX_SLOTS = 32;

const names: string[] = [];
/** Current twin of each slot: 0 none, 1 "a", 2 "b". */
const twin = new Uint8Array(MAX_SLOTS);
const recs: (string | undefined)[] = [];
let sk: Uint8Array | null = null;
let sh: Hash | null = null;

/** The data key sealed pads are read and written with (null: locked, or no PIN), and its hash. */
export function setSealKey(k: Uint8Array | null, h: Hash | null): void {
  sk = k;
  sh = h;
}

function baseOf(i: number): string {
  return "hwt.s" + i;
}

function fileOf(i: number): string {
  return twin[i] ? baseOf(i) + (twin[i] === 1 ? "a" : "b") : "";
}

function keep(i: number, f: string, name: string): void {
  twin[i] = f ? (f.charAt(f.length - 1) === "a" ? 1 : 2) : 0;
  recs[i] = f ? st.read(f) : undefined;
  names[i] = name;
}

export function loadSlots(): void {
  for (let i = 0; i < MAX_SLOTS; i++) {
    const h = scanRecord(baseOf(i));
    if (h && typeof h.n === "string") keep(i, h.w, h.n);
    else keep(i, "", "");
  }
}

export function usedSlots(): number {
  return slotIndexes().length;
}

/** Index of the slot of that name, or -1; findSlot("") is a free slot (loadSlots has filled every entry). */
export function findSlot(name: string): number {
  return names.indexOf(name);
}

export function slotIndexes(): number[] {
  const out: number[] = [];
  for (let i = 0; i < MAX_SLOTS; i++) if (names[i]) out.push(i);
  return out;
}

/** The header of slot i (one Storage read), or null; slotInfo and slotKey both work from it. */
export function slotHead(i: number): RecHead | null {
  return twin[i] ? headOf(recs[i], fileOf(i)) : null;
}

export function infoOf(h: RecHead): SlotInfo {
  const info: SlotInfo = { name: h.n as string, alg: h.a as Algorithm, digits: h.d as number, period: h.p as number, touch: h.t === 1 };
  if (typeof h.s === "string") info.serial = h.s as string;
  return info;
}

export function slotInfo(i: number): SlotInfo | null {
  const h = slotHead(i);
  return h ? infoOf(h) : null;
}

/** The pads of slot i with header h: a view of Storage, or an unsealed copy (null while locked). */
function padsOf(i: number, h: RecHead): Uint8Array | null {
  const r = recs[i];
  const p = r && r.length >= h.k + h.l ? new Uint8Array(E.toArrayBuffer(r), h.k, h.l) : null;
  if (!p || !h.e) return p;
  if (!sk || !sh) return null;
  const u = new Uint8Array(p.subarray(8));
  sealBytes(sh, sk, p.subarray(0, 8), u);
  return u;
}

/** The HMAC key of slot i with header h, or null if the board lacks its hash (or the pads are sealed). */
export function slotKey(i: number, h: RecHead, hashes: Hashes): HmacKey | null {
  const fn = hashes[h.a as string];
  const p = fn ? padsOf(i, h) : null;
  if (!fn || !p) return null;
  return { h: fn, b: p.length / 2, p: p };
}

/**
 * Stores slot i with its pads, sealed under `key` (default: the current data key; null: plain). False when
 * Storage refused.
 */
export function writeSlot(i: number, info: SlotInfo, pads: Uint8Array, key?: Uint8Array | null): boolean {
  if (key === undefined) key = sk;
  const fields: { [k: string]: unknown } = { n: info.name, a: info.alg, d: info.digits, p: info.period, t: info.touch ? 1 : 0 };
  if (info.serial !== undefined) fields.s = info.serial;
  let body = pads;
  if (key && sh) {
    fields.e = 1;
    body = new Uint8Array(8 + pads.length);
    body.set(randomBytes(sh, 8), 0);
    body.set(pads, 8);
    sealBytes(sh, key, body.subarray(0, 8), body.subarray(8));
  }
  const f = writeRecord(baseOf(i), fileOf(i), fields, body);
  if (body !== pads) body.fill(0);
  if (!f) return false;
  keep(i, f, info.name);
  return true;
}

/**
 * Rewrites every slot whose pads are not yet as `key` wants them: sealed under key, or plain when key is
 * null; sealed pads are read with the current key. Each slot is one atomic record, so a power cut leaves
 * each slot old or new. Returns how many slots were rewritten, or -1 when Storage refused a write.
 */
export function resealSlots(key: Uint8Array | null): number {
  let n = 0;
  for (let i = 0; i < MAX_SLOTS; i++) {
    const h = slotHead(i);
    if (!h || !!h.e === (key !== null)) continue;
    const p = padsOf(i, h);
    if (!p) return -1;
    const u = new Uint8Array(p);
    const ok = writeSlot(i, infoOf(h), u, key);
    u.fill(0);
    if (!ok) return -1;
    n++;
  }
  sk = key;
  return n;
}

/** Erases slot i, its pads scrubbed from flash first (record.ts drop). */
export function deleteSlot(i: number): void {
  eraseRecord(baseOf(i));
  keep(i, "", "");
}

/** Erases every slot, including files of slots beyond MAX_SLOTS or torn ones. Returns how many slots were used. */
export function wipeSlots(): number {
  const n = usedSlots();
  const all = st.list(/^hwt\.s/);
  for (let k = 0; k < all.length; k++) drop(all[k]);
  for (let i = 0; i < MAX_SLOTS; i++) keep(i, "", "");
  return n;
}
