// Atomic records in Espruino Storage. A record named BASE lives in BASE+"a" or BASE+"b"; a write goes to the
// file that does not hold the current version, is read back and checked, and only then is the old file erased.
// A power cut therefore leaves the old or the new record. File layout: 4 ASCII digits (header length), the
// header (JSON, ASCII: q = sequence, l = body length, c = body checksum, plus the caller's fields), the body
// (raw bytes, read through readArrayBuffer so 8-bit and UTF-8 builds agree). Names stay far below 28 chars.

import { bytesOf } from "./seal.ts";

/**
 * Storage. Every file a record leaves behind (an older twin, a torn one, an erased record) is scrubbed before it
 * is erased (drop): no pad stays readable as trash, and nothing needs a compaction, which is not power safe.
 */
export const st = require("Storage");

export interface RecHead {
  q: number;
  l: number;
  c: number;
  /** Body offset in the file (computed on read, not stored). */
  k: number;
  /** The file it was read from (set on read, not stored). */
  w: string;
  [f: string]: unknown;
}

function checksum(u: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < u.length; i++) {
    a = (a + u[i]) % 65521;
    b = (b + a) % 65521;
  }
  return b * 65536 + a;
}

/** The header of a record read as `f` (st.read of `file`), or null when absent or unreadable. */
export function headOf(f: string | undefined, file: string): RecHead | null {
  const hl = f ? parseInt(f.substring(0, 4), 10) : 0;
  const s = hl > 0 && hl < 1000 ? (f as string).substring(4, 4 + hl) : "";
  if (s.length !== hl || !hl) return null;
  try {
    const h = JSON.parse(s) as RecHead;
    if (h && typeof h.q === "number" && typeof h.l === "number") {
      h.k = 4 + hl;
      h.w = file;
      return h;
    }
  } catch (e) {}
  return null;
}

/** Header of a record file, or null when absent or unreadable (one Storage lookup). */
export function readHead(file: string): RecHead | null {
  return headOf(st.read(file), file);
}

/** The body bytes of a record file (a view into Storage, no copy on the device). */
export function readBody(file: string, h: RecHead): Uint8Array | null {
  const ab = st.readArrayBuffer(file);
  return ab && ab.byteLength >= h.k + h.l ? new Uint8Array(ab, h.k, h.l) : null;
}

function valid(file: string): RecHead | null {
  const h = readHead(file);
  if (!h) return null;
  if (h.l === 0) return h.c === 1 ? h : null;
  const body = readBody(file, h);
  return body && checksum(body) === h.c ? h : null;
}

/**
 * Zeroes the data of Storage file f where it lies in flash (require("Flash"): programming only clears bits, so
 * a power cut anywhere leaves it whole, partly zeroed or zeroed, and it then fails its checksum). An erased file
 * stays readable as trash until a compaction, and a compaction is not power safe (jsfCompactInternal holds
 * pages in RAM while it erases them), so this is how erased pads leave the flash. The file is found by walking
 * the headers as jsflash.c does (u32 size | flags << 24, 28-byte 0-padded name, data 4-byte aligned; where no
 * header follows, the next page) from Storage's start: process.memory().flash_code_start on a board, the fake
 * flash's start (Flash.getFree) on the Linux build.
 */
let start = -1;

function scrub(f: string, n: number): void {
  const F = require("Flash");
  if (start < 0) {
    const m = process.memory(false);
    start = m.flash_code_start !== undefined ? m.flash_code_start : F.getFree()[0].addr;
  }
  let a = start;
  let jumped = false;
  for (;;) {
    const h = F.read(32, a);
    const z = h[0] | (h[1] << 8) | (h[2] << 16);
    if (!z || (z === 0xffffff && h[3] === 0xff)) {
      const p = jumped ? undefined : F.getPage(a);
      if (!p) return;
      a = p.addr + p.length;
      jumped = true;
      continue;
    }
    jumped = false;
    let k = 0;
    while (k < f.length && h[4 + k] === f.charCodeAt(k)) k++;
    if (k === f.length && (k === 28 || !h[4 + k]) && z === n) {
      F.write(new Uint8Array((n + 3) & ~3), a + 32);
      return;
    }
    a += (z + 35) & ~3;
  }
}

/** Scrubs and erases a Storage file, if there. */
export function drop(file: string): void {
  const s = st.read(file);
  if (s === undefined) return;
  scrub(file, s.length);
  st.erase(file);
}

/** Finds the current file of a record (its header, file in .w), erasing a stale or torn twin. Null when there is none. */
export function scanRecord(base: string): RecHead | null {
  const fa = base + "a";
  const fb = base + "b";
  const ha = valid(fa);
  const hb = valid(fb);
  const keep = ha && (!hb || ha.q > hb.q) ? ha : hb;
  const kf = keep ? keep.w : "";
  if (kf !== fa) drop(fa);
  if (kf !== fb) drop(fb);
  return keep;
}

/**
 * Writes a record (head fields + body) next to `current` and erases `current` afterwards.
 * Returns the new file name, or "" when Storage refused the write (the old record is then untouched).
 */
export function writeRecord(base: string, current: string, fields: { [k: string]: unknown }, body: Uint8Array | null): string {
  const prev = current ? readHead(current) : null;
  const file = current === base + "a" ? base + "b" : base + "a";
  const bl = body ? body.length : 0;
  const head: { [k: string]: unknown } = { q: prev ? prev.q + 1 : 1, l: bl, c: body ? checksum(body) : 1 };
  for (const k in fields) head[k] = fields[k];
  const hs = JSON.stringify(head);
  const hl = String(hs.length);
  const pre = "0000".substring(hl.length) + hl + hs;
  const out = new Uint8Array(pre.length + bl);
  out.set(bytesOf(pre), 0);
  if (body) out.set(body, pre.length);
  let ok = false;
  try {
    ok = st.write(file, out) !== false && valid(file) !== null;
  } catch (e) {}
  out.fill(0);
  if (!ok) {
    drop(file);
    return "";
  }
  if (current && current !== file) drop(current);
  return file;
}

export function eraseRecord(base: string): void {
  drop(base + "a");
  drop(base + "b");
}
