// The slot store: up to MAX_SLOTS slots, each an atomic record (record.ts) "hwt.s<i>" holding the slot's
// settings in its header and the HMAC pads (RFC 2104 K^ipad || K^opad, never the seed itself and never in RAM)
// in its body. RAM keeps only each slot's name and current file. Writes happen on add/delete/wipe, never per code.
import type { Algorithm, SlotInfo } from "../../protocol/index.ts";
import { eraseRecord, readBody, readHead, scanRecord, writeRecord } from "./record.ts";
import type { HmacKey } from "./totp.ts";
import type { Hashes } from "./hmac.ts";

export const MAX_SLOTS = 32;

const names: string[] = [];
const files: string[] = [];

function baseOf(i: number): string {
  return "hwt.s" + i;
}

export function loadSlots(): void {
  for (let i = 0; i < MAX_SLOTS; i++) {
    const f = scanRecord(baseOf(i));
    const h = f ? readHead(f) : null;
    files[i] = h && typeof h.n === "string" ? f : "";
    names[i] = h && typeof h.n === "string" ? (h.n as string) : "";
  }
}

export function usedSlots(): number {
  let n = 0;
  for (let i = 0; i < MAX_SLOTS; i++) if (names[i]) n++;
  return n;
}

export function findSlot(name: string): number {
  for (let i = 0; i < MAX_SLOTS; i++) if (names[i] === name) return i;
  return -1;
}

export function freeSlot(): number {
  for (let i = 0; i < MAX_SLOTS; i++) if (!names[i]) return i;
  return -1;
}

export function slotIndexes(): number[] {
  const out: number[] = [];
  for (let i = 0; i < MAX_SLOTS; i++) if (names[i]) out.push(i);
  return out;
}

export function slotInfo(i: number): SlotInfo | null {
  const h = files[i] ? readHead(files[i]) : null;
  if (!h) return null;
  const info: SlotInfo = { name: h.n as string, alg: h.a as Algorithm, digits: h.d as number, period: h.p as number, touch: h.t === 1 };
  if (typeof h.s === "string") info.serial = h.s as string;
  return info;
}

/** The slot's HMAC key (a view of its stored pads), or null if the board lacks its hash. */
export function slotKey(i: number, hashes: Hashes): HmacKey | null {
  const h = files[i] ? readHead(files[i]) : null;
  if (!h) return null;
  const fn = hashes[h.a as string];
  const p = fn ? readBody(files[i], h) : null;
  if (!fn || !p) return null;
  return { h: fn, b: p.length / 2, p: p };
}

/** Stores a new slot with its pads in slot i. Returns false when Storage refused the write. */
export function writeSlot(i: number, info: SlotInfo, pads: Uint8Array): boolean {
  const fields: { [k: string]: unknown } = { n: info.name, a: info.alg, d: info.digits, p: info.period, t: info.touch ? 1 : 0 };
  if (info.serial !== undefined) fields.s = info.serial;
  const f = writeRecord(baseOf(i), files[i], fields, pads);
  if (!f) return false;
  files[i] = f;
  names[i] = info.name;
  return true;
}

export function deleteSlot(i: number): void {
  eraseRecord(baseOf(i));
  files[i] = "";
  names[i] = "";
}

/** Erases every slot, including files of slots beyond MAX_SLOTS or torn ones. Returns how many slots were used. */
export function wipeSlots(): number {
  const n = usedSlots();
  const st = require("Storage");
  const all = st.list(/^hwt\.s/);
  for (let k = 0; k < all.length; k++) st.erase(all[k]);
  for (let i = 0; i < MAX_SLOTS; i++) {
    files[i] = "";
    names[i] = "";
  }
  return n;
}
