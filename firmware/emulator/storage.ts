// Espruino's Storage module (jsflash.c) modelled on a NOR-flash image: append-only files with 32-byte
// headers, erase by clearing a flag (bits only go 1→0), trash reclaimed by compact(), pages erased whole.
// Every flash primitive (program a chunk, erase a page) is one step, so a power cut can land between any two.

/** Header: u32 size (low 24 bits) | flags (top 8 bits), then 28 bytes of 0-padded name. */
const HEADER = 32;
const NAME_MAX = 28;
/** Flags byte values: 0xFF live, 0x00 erased (trash). */
const LIVE = 0xff;
/** Bytes programmed per flash step. */
const PROGRAM_CHUNK = 256;

/** Thrown out of a Storage call when a scheduled power cut fires. The emulator treats it as power loss. */
export class PowerCut extends Error {
  constructor() {
    super("power cut");
    this.name = "PowerCut";
  }
}

export interface StorageFile {
  name: string;
  addr: number; // data start
  size: number;
}

export interface StorageStats {
  fileBytes: number;
  fileCount: number;
  trashBytes: number;
  trashCount: number;
  total: number;
  free: number;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

export class Flash {
  readonly bytes: Uint8Array;
  readonly pageBytes: number;
  /** Remaining flash steps before a power cut; -1: none scheduled. */
  cutAfter = -1;
  /** Power is gone: every further flash operation fails. */
  dead = false;
  onCut: (() => void) | null = null;
  /** Flash steps done so far (for tests that enumerate cut points). */
  steps = 0;
  onChange: (() => void) | null = null;

  constructor(size: number, pageBytes: number, image?: Uint8Array) {
    this.bytes = new Uint8Array(size).fill(0xff);
    this.pageBytes = pageBytes;
    if (image) this.bytes.set(image.subarray(0, Math.min(size, image.length)));
  }

  private step(): void {
    if (this.dead) throw new PowerCut();
    if (this.cutAfter === 0) {
      this.cutAfter = -1;
      this.dead = true;
      if (this.onCut) this.onCut();
      throw new PowerCut();
    }
    if (this.cutAfter > 0) this.cutAfter--;
    this.steps++;
  }

  /** NOR semantics: programming can only clear bits. */
  program(addr: number, data: Uint8Array): void {
    for (let off = 0; off < data.length; off += PROGRAM_CHUNK) {
      this.step();
      const end = Math.min(data.length, off + PROGRAM_CHUNK);
      for (let i = off; i < end; i++) this.bytes[addr + i] &= data[i];
      if (this.onChange) this.onChange();
    }
  }

  erasePage(page: number): void {
    this.step();
    this.bytes.fill(0xff, page * this.pageBytes, (page + 1) * this.pageBytes);
    if (this.onChange) this.onChange();
  }

  /** Length of the image up to the last programmed byte (what the state file needs to keep). */
  usedLength(): number {
    let n = this.bytes.length;
    while (n > 0 && this.bytes[n - 1] === 0xff) n--;
    return n;
  }
}

export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + 8192)));
  return s;
}

export function fromLatin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

/** Storage errors carry Espruino's own sentences. */
export class StorageError extends Error {}

export class Storage {
  constructor(readonly flash: Flash) {}

  /** Walks the headers from the start; stops at an unprogrammed header or at a corrupt one (like jsfGetNextFileHeader). */
  scan(): { live: StorageFile[]; trash: StorageFile[]; end: number } {
    const b = this.flash.bytes;
    const live: StorageFile[] = [];
    const trash: StorageFile[] = [];
    let addr = 0;
    while (addr + HEADER <= b.length) {
      const size = b[addr] | (b[addr + 1] << 8) | (b[addr + 2] << 16);
      const flags = b[addr + 3];
      if (size === 0xffffff && flags === 0xff) break; // free space
      if (size === 0 || addr + HEADER + size > b.length) break; // corrupt: treat the rest as unusable
      let name = "";
      for (let i = 0; i < NAME_MAX; i++) {
        const c = b[addr + 4 + i];
        if (c === 0) break;
        name += String.fromCharCode(c);
      }
      const f = { name: name, addr: addr + HEADER, size: size };
      if (flags === LIVE && name.length > 0) live.push(f);
      else trash.push(f);
      addr += HEADER + align4(size);
    }
    return { live: live, trash: trash, end: addr };
  }

  find(name: string): StorageFile | undefined {
    const files = this.scan().live;
    for (let i = files.length - 1; i >= 0; i--) if (files[i].name === name) return files[i];
    return undefined;
  }

  list(): string[] {
    return this.scan().live.map((f) => f.name);
  }

  readBytes(name: string, offset?: number, length?: number): Uint8Array | undefined {
    const f = this.find(name);
    if (!f) return undefined;
    let off = offset || 0;
    if (off > f.size) off = f.size;
    let len = length === undefined || length <= 0 ? f.size : length;
    if (off + len > f.size) len = f.size - off;
    return this.flash.bytes.slice(f.addr + off, f.addr + off + len);
  }

  static checkName(name: string): void {
    if (typeof name !== "string" || name.length === 0) throw new StorageError("Invalid filename");
    if (name.length > NAME_MAX) throw new StorageError("File name too long (max " + NAME_MAX + " chars)");
  }

  private isErased(addr: number, size: number): boolean {
    const b = this.flash.bytes;
    for (let i = 0; i < size; i++) if (b[addr + i] !== 0xff) return false;
    return true;
  }

  private eraseHeader(f: StorageFile): void {
    this.flash.program(f.addr - HEADER + 3, new Uint8Array([0]));
  }

  private createFile(name: string, size: number): StorageFile {
    let s = this.scan();
    const need = HEADER + align4(size);
    if (s.end + need <= this.flash.bytes.length && !this.isErased(s.end, need)) {
      // Leftovers of an interrupted write past the last header: flash must be erased before reuse.
      this.compact();
      s = this.scan();
    }
    if (s.end + need > this.flash.bytes.length) {
      this.compact();
      s = this.scan();
      if (s.end + need > this.flash.bytes.length) throw new StorageError("Unable to find or create file");
    }
    const h = new Uint8Array(HEADER);
    h[0] = size & 0xff;
    h[1] = (size >> 8) & 0xff;
    h[2] = (size >> 16) & 0xff;
    h[3] = LIVE;
    for (let i = 0; i < name.length; i++) h[4 + i] = name.charCodeAt(i) & 0xff;
    this.flash.program(s.end, h);
    return { name: name, addr: s.end + HEADER, size: size };
  }

  /** jsfWriteFile: same semantics as the device, including erase-old-then-create (not atomic). */
  write(name: string, data: Uint8Array, offset?: number, size?: number): boolean {
    Storage.checkName(name);
    const off = offset || 0;
    let total = size || 0;
    if (off < 0 || total < 0) return false;
    if (total === 0) total = data.length;
    if (total === 0) throw new StorageError("Can't create zero length file");
    let f = this.find(name);
    if ((!f && off === 0) || (f && off === 0 && (total !== f.size || !this.isErased(f.addr, total)))) {
      if (f && off === 0 && total === f.size && data.length === total) {
        const cur = this.flash.bytes.subarray(f.addr, f.addr + total);
        let same = true;
        for (let i = 0; i < total && same; i++) same = cur[i] === data[i];
        if (same) return true;
      }
      if (f) this.eraseHeader(f);
      f = this.createFile(name, total);
    }
    if (!f) throw new StorageError("Unable to find or create file");
    if (off + data.length > f.size) throw new StorageError("Too much data for file size");
    this.flash.program(f.addr + off, data);
    return true;
  }

  erase(name: string): void {
    Storage.checkName(name);
    const f = this.find(name);
    if (f) this.eraseHeader(f);
  }

  /**
   * Reclaims trash the way a device without a spare page must: live files are buffered in RAM, then pages
   * are erased and rewritten in order. A power cut mid-way loses the files not yet rewritten (as on the device),
   * but what is left is always a well-formed store.
   */
  compact(): void {
    const s = this.scan();
    const used = this.flash.usedLength();
    if (s.trash.length === 0 && used <= s.end) return;
    const keep = s.live.map((f) => ({ name: f.name, data: this.flash.bytes.slice(f.addr, f.addr + f.size) }));
    const pages = Math.ceil(Math.max(s.end, used) / this.flash.pageBytes);
    for (let p = 0; p < pages; p++) this.flash.erasePage(p);
    let addr = 0;
    for (const f of keep) {
      const h = new Uint8Array(HEADER);
      h[0] = f.data.length & 0xff;
      h[1] = (f.data.length >> 8) & 0xff;
      h[2] = (f.data.length >> 16) & 0xff;
      h[3] = LIVE;
      for (let i = 0; i < f.name.length; i++) h[4 + i] = f.name.charCodeAt(i);
      this.flash.program(addr + HEADER, f.data); // data first, header last: a file is whole or absent
      this.flash.program(addr, h);
      addr += HEADER + align4(f.data.length);
    }
  }

  eraseAll(): void {
    const pages = Math.ceil(this.flash.bytes.length / this.flash.pageBytes);
    for (let p = 0; p < pages; p++) this.flash.erasePage(p);
  }

  getFree(): number {
    return Math.max(0, this.flash.bytes.length - this.scan().end);
  }

  getStats(): StorageStats {
    const s = this.scan();
    let fileBytes = 0;
    let trashBytes = 0;
    for (const f of s.live) fileBytes += HEADER + align4(f.size);
    for (const f of s.trash) trashBytes += HEADER + align4(f.size);
    return {
      fileBytes: fileBytes, fileCount: s.live.length, trashBytes: trashBytes, trashCount: s.trash.length,
      total: this.flash.bytes.length, free: this.flash.bytes.length - s.end,
    };
  }
}
