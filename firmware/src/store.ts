// The slot store: up to MAX_SLOTS slots, each an atomic record (record.ts) "hwt.s<i>" holding the slot's
// settings in its header and the HMAC pads (RFC 2104 K^ipad || K^opad, never the seed itself and never in RAM)
// in its body. RAM keeps only each slot's name and current file. Writes happen on add/delete/wipe, never per code.
import type { Algorithm, SlotInfo } from "../../protocol/index.ts";
import { eraseRecord, readBody, readHead, scanRecord, st, writeRecord, type RecHead } from "./record.ts";
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
    const h = scanRecord(baseOf(i));
    files[i] = h && typeof h.n === "string" ? h.w : "";
    names[i] = h && typeof h.n === "string" ? (h.n as string) : "";
  }
}

export function usedSlots(): number {
  return slotIndexes().length;
}

/** Index of the slot of that (non-empty) name, or -1. */
export function findSlot(name: string): number {
  return names.indexOf(name);
}

/** Index of a free slot, or -1 (loadSlots has filled every entry of names). */
export function freeSlot(): number {
  return names.indexOf("");
}

export function slotIndexes(): number[] {
  const out: number[] = [];
  for (let i = 0; i < MAX_SLOTS; i++) if (names[i]) out.push(i);
  return out;
}

/** The header of slot i (one Storage read), or null; slotInfo and slotKey both work from it. */
export function slotHead(i: number): RecHead | null {
  return files[i] ? readHead(files[i]) : null;
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

/** The HMAC key of slot i with header h (a view of its stored pads), or null if the board lacks its hash. */
export function slotKey(i: number, h: RecHead, hashes: Hashes): HmacKey | null {
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

function clear(i: number): void {
  files[i] = "";
  names[i] = "";
}

export function deleteSlot(i: number): void {
  eraseRecord(baseOf(i));
  clear(i);
}

/** Erases every slot, including files of slots beyond MAX_SLOTS or torn ones. Returns how many slots were used. */
export function wipeSlots(): number {
  const n = usedSlots();
  const all = st.list(/^hwt\.s/);
  for (let k = 0; k < all.length; k++) st.erase(all[k]);
  for (let i = 0; i < MAX_SLOTS; i++) clear(i);
  return n;
}
