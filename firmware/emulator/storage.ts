// Espruino's Storage module (src/jsflash.c, 2v29) modelled on a NOR-flash image, byte for byte in its layout:
// append-only files, each a 32-byte header (u32 size, whose top 8 bits are the flags: 0 for a normal file,
// then a 28-byte 0-padded name) and its data padded to 4 bytes; erase zeroes the first 4 bytes of the name
// (bits only go 1→0), leaving the file as trash that still reads until compact(); pages are erased whole.
// So an image the emulator writes is an espruino.flash the Linux build reads, and the reverse.
// Every flash primitive (program a chunk, erase a page) is one step, so a power cut can land between any two.

/** Header: u32 size (low 24 bits) | flags (top 8 bits), then 28 bytes of 0-padded name. */
const HEADER = 32;
const NAME_MAX = 28;
/** Flags of the files jsfIsRealFile keeps (JSFF_NONE, JSFF_STORAGEFILE, JSFF_COMPRESSED). */
const REAL_FLAGS = [0, 64, 128];
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

/** A file compaction rewrote at another address (data start before and after). */
export interface MovedFile {
  name: string;
  from: number;
  to: number;
}

/** Storage.getStats() as the device gives it (jswrap_storage.c). */
export interface StorageStats {
  totalBytes: number;
  freeBytes: number;
  fileBytes: number;
  fileCount: number;
  trashBytes: number;
  trashCount: number;
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
    if (image) {
      this.bytes.set(image.subarray(0, Math.min(size, image.length)));
      migrateImage(this.bytes); // a state file from before the emulator used Espruino's exact layout
    }
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

function header(name: string, size: number, flags = 0): Uint8Array {
  const h = new Uint8Array(HEADER);
  h[0] = size & 0xff;
  h[1] = (size >> 8) & 0xff;
  h[2] = (size >> 16) & 0xff;
  h[3] = flags & 0xff;
  for (let i = 0; i < name.length; i++) h[4 + i] = name.charCodeAt(i) & 0xff;
  return h;
}

/**
 * Converts, in place, an image of the emulator's first layout (flags byte 0xFF for a live file, 0x00 for trash)
 * to Espruino's (flags 0, trash marked by a zeroed name start). An image with no header flagged 0xFF is already
 * in Espruino's layout (Espruino writes no such flags) and is left alone.
 */
export function migrateImage(b: Uint8Array): boolean {
  const heads: number[] = [];
  let addr = 0;
  let old = false;
  while (addr + HEADER <= b.length) {
    const size = b[addr] | (b[addr + 1] << 8) | (b[addr + 2] << 16);
    if ((size === 0xffffff && b[addr + 3] === 0xff) || size === 0 || addr + HEADER + size > b.length) break;
    if (b[addr + 3] === 0xff) old = true;
    heads.push(addr);
    addr += HEADER + align4(size);
  }
  if (!old) return false;
  for (const a of heads) {
    if (b[a + 3] !== 0xff) b.fill(0, a + 4, a + 8);
    b[a + 3] = 0;
  }
  return true;
}

export class Storage {
  constructor(readonly flash: Flash) {}

  private pageStart(addr: number): number {
    return addr - (addr % this.flash.pageBytes);
  }

  /** A valid header at addr (jsfGetFileHeader): size not unset, not 0, file inside the bank. */
  private headerAt(addr: number): { size: number; flags: number; name: string; erased: boolean } | null {
    const b = this.flash.bytes;
    if (addr + HEADER > b.length) return null;
    const size = b[addr] | (b[addr + 1] << 8) | (b[addr + 2] << 16);
    const flags = b[addr + 3];
    if ((size === 0xffffff && flags === 0xff) || size === 0 || addr + HEADER + size > b.length) return null;
    const erased = b[addr + 4] === 0 && b[addr + 5] === 0 && b[addr + 6] === 0 && b[addr + 7] === 0;
    let name = "";
    for (let i = 0; i < NAME_MAX; i++) {
      const c = b[addr + 4 + i];
      if (c === 0) break;
      name += String.fromCharCode(c);
    }
    return { size: size, flags: flags, name: name, erased: erased };
  }

  /**
   * Walks the headers from the start as jsfGetNextFileHeader(GNFH_GET_ALL) does: after each file the next header
   * sits at the 4-byte aligned end; when none is there, the next page start is tried once (older firmwares
   * aligned files to pages). `end`: where the next file goes; `firstTrashPage`: where compaction starts (the
   * last page that begins with a header, at or before the first trash file; jsfGetStorageStats).
   */
  scan(): { live: StorageFile[]; trash: StorageFile[]; end: number; firstTrashPage: number; lastUnbroken: number } {
    const live: StorageFile[] = [];
    const trash: StorageFile[] = [];
    let addr = 0;
    let unbroken = 0;
    let firstTrashPage = -1;
    let h = this.headerAt(addr);
    while (h) {
      if (this.pageStart(addr) === addr) unbroken = addr;
      const f = { name: h.name, addr: addr + HEADER, size: h.size };
      if (!h.erased && REAL_FLAGS.indexOf(h.flags) >= 0) live.push(f);
      else {
        trash.push(f);
        if (h.erased && firstTrashPage < 0) firstTrashPage = unbroken;
      }
      addr += HEADER + align4(h.size);
      h = this.headerAt(addr);
      if (!h) {
        const next = this.pageStart(addr) + this.flash.pageBytes;
        if (next !== addr && next + HEADER <= this.flash.bytes.length) {
          const h2 = this.headerAt(next);
          if (h2) {
            addr = next;
            h = h2;
          }
        }
      }
    }
    return { live: live, trash: trash, end: addr, firstTrashPage: firstTrashPage, lastUnbroken: unbroken };
  }

  find(name: string): StorageFile | undefined {
    name = Storage.fileName(name);
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
  }

  /** jsfNameFromVar: a name is cut to its first 28 characters (no error on the device). */
  static fileName(name: string): string {
    return name.length > NAME_MAX ? name.substring(0, NAME_MAX) : name;
  }

  private isErased(addr: number, size: number): boolean {
    const b = this.flash.bytes;
    for (let i = 0; i < size; i++) if (b[addr + i] !== 0xff) return false;
    return true;
  }

  /** jsfEraseFileInternal: the first 4 bytes of the name become 0. */
  private eraseHeader(f: StorageFile): void {
    this.flash.program(f.addr - HEADER + 4, new Uint8Array(4));
    if (this.onErase) this.onErase(f);
  }

  /** Called after a file is erased (the device nulls the strings that point into it). */
  onErase: ((f: StorageFile) => void) | null = null;
  /** Called after a compaction that rewrote files at other addresses (the device's running code may be there). */
  onCompact: ((moved: MovedFile[]) => void) | null = null;

  /**
   * _jsfCreateFile: appends; when the file does not fit, compacts only if free space plus trash would hold it
   * ("better to fail fast"), then tries once more.
   */
  private createFile(name: string, size: number): StorageFile {
    let s = this.scan();
    const need = HEADER + align4(size);
    const len = this.flash.bytes.length;
    if (s.end + need <= len && !this.isErased(s.end, need)) {
      // Leftovers of an interrupted write past the last header: flash must be erased before reuse.
      this.compact();
      s = this.scan();
    }
    if (s.end + need > len) {
      let trash = 0;
      for (const t of s.trash) trash += HEADER + align4(t.size);
      if (need < len - s.end + trash) {
        this.compact();
        s = this.scan();
      }
      if (s.end + need > len) throw new StorageError("Unable to find or create file");
    }
    this.flash.program(s.end, header(name, size));
    return { name: name, addr: s.end + HEADER, size: size };
  }

  /** jsfWriteFile: same semantics as the device, including erase-old-then-create (not atomic). */
  write(name: string, data: Uint8Array, offset?: number, size?: number): boolean {
    Storage.checkName(name);
    name = Storage.fileName(name);
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
    if (!this.isErased(f.addr + off, data.length)) throw new StorageError("File already written with different data");
    this.flash.program(f.addr + off, data);
    return true;
  }

  erase(name: string): void {
    Storage.checkName(name);
    const f = this.find(name);
    if (f) this.eraseHeader(f);
  }

  /**
   * jsfCompact: from the last page that starts with a header at or before the first trash file, every live file
   * is rewritten contiguously (files before that page stay where they are), then the pages after the last one
   * written are erased, so no trash byte is left anywhere (as the Linux build leaves none in espruino.flash).
   * The device streams files through a page-sized RAM buffer; here the files are buffered whole, pages erased,
   * then each rewritten data first and header last, so a power cut mid-way leaves a well-formed store that may
   * lack files not yet rewritten (each is whole or absent). Returns the files that moved.
   * With no trash it also runs when bytes past the last header are programmed (an interrupted write, which the
   * device would trip over), from the page of the store's end.
   */
  compact(): MovedFile[] {
    const s = this.scan();
    const used = this.flash.usedLength();
    const dirty = used > s.end;
    const hasTrash = s.trash.some((t) => this.headerAt(t.addr - HEADER)!.erased);
    if (!hasTrash && !dirty) return [];
    const from = hasTrash ? s.firstTrashPage : this.pageStart(s.end) === s.end ? s.end : s.lastUnbroken;
    const keep = s.live
      .filter((f) => f.addr - HEADER >= from)
      .map((f) => ({
        name: f.name,
        addr: f.addr,
        data: this.flash.bytes.slice(f.addr, f.addr + f.size),
        head: this.flash.bytes.slice(f.addr - HEADER, f.addr),
      }));
    const last = Math.max(s.end, used);
    const firstPage = from / this.flash.pageBytes;
    const pages = Math.ceil(last / this.flash.pageBytes);
    for (let p = firstPage; p < pages; p++) this.flash.erasePage(p);
    let addr = from;
    const moved: MovedFile[] = [];
    for (const f of keep) {
      this.flash.program(addr + HEADER, f.data); // data first, header last: a file is whole or absent
      this.flash.program(addr, f.head);
      if (addr + HEADER !== f.addr) moved.push({ name: f.name, from: f.addr, to: addr + HEADER });
      addr += HEADER + align4(f.data.length);
    }
    if (moved.length && this.onCompact) this.onCompact(moved);
    return moved;
  }

  eraseAll(): void {
    const pages = Math.ceil(this.flash.bytes.length / this.flash.pageBytes);
    for (let p = 0; p < pages; p++) this.flash.erasePage(p);
    if (this.onErase) this.onErase({ name: "", addr: 0, size: this.flash.bytes.length });
  }

  getFree(): number {
    return Math.max(0, this.flash.bytes.length - this.scan().end);
  }

  getStats(): StorageStats {
    const s = this.scan();
    let fileBytes = 0;
    let trashBytes = 0;
    let trashCount = 0;
    let fileCount = 0;
    for (const f of s.live) fileBytes += HEADER + align4(f.size);
    fileCount = s.live.length;
    for (const f of s.trash) {
      // jsfGetStorageStats counts a file as trash only by its zeroed name; other flags count as files
      if (this.headerAt(f.addr - HEADER)!.erased) {
        trashBytes += HEADER + align4(f.size);
        trashCount++;
      } else {
        fileBytes += HEADER + align4(f.size);
        fileCount++;
      }
    }
    return {
      totalBytes: this.flash.bytes.length,
      freeBytes: this.flash.bytes.length - s.end,
      fileBytes: fileBytes,
      fileCount: fileCount,
      trashBytes: trashBytes,
      trashCount: trashCount,
    };
  }
}
