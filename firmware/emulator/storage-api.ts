// require("Storage") and require("Flash") as the program sees them, over the board's Storage (storage.ts):
// what reads allocate on the device, writes through storageCall (errors as the program's Errors, the flash
// image saved after each), JSON parsed as the device parses it.
import { toBytes, type DeviceCore } from "./core.ts";
import { DeviceFault, OutOfMemory } from "./errors.ts";
import { countBlocks, stringBlocks } from "./heap.ts";
import { espruinoJsonParse } from "./json.ts";
import { fromLatin1, latin1 } from "./storage.ts";
import { isLinux } from "./boards.ts";

/** require("Storage") (src/jswrap_storage.c). */
export function storageModule(core: DeviceCore): any {
  const st = core.storage;
  const readStr = (name: string, offset?: number, length?: number): string | undefined => {
    const b = st.readBytes(String(name), offset, length);
    if (!b) return undefined;
    const s = latin1(b);
    core.flashStrings.add(s);
    core.alloc(1);
    return s;
  };
  return {
    read: (name: string, offset?: number, length?: number) => readStr(name, offset, length),
    readJSON: (name: string, noExceptions?: boolean) => {
      const s = readStr(name);
      if (s === undefined) return undefined;
      try {
        const v = espruinoJsonParse(s, core.jsonRealm(), true); // jswrap_json_parse_liberal: unquoted keys too
        core.alloc(countBlocks([v], core.walkOptions(false)));
        return v;
      } catch (e) {
        if (e instanceof OutOfMemory || e instanceof DeviceFault) throw e;
        if (noExceptions) return undefined;
        throw e;
      }
    },
    // jswrap_storage_readArrayBuffer: an ArrayBuffer over the file's native/flash string, no copy (2 blocks)
    readArrayBuffer: (name: string) => {
      const b = st.readBytes(String(name));
      if (!b) return undefined;
      core.alloc(2);
      const ab = new core.realm.intrinsics.ArrayBuffer(b.length);
      new core.realm.intrinsics.Uint8Array(ab).set(b);
      core.backing.set(ab, 1);
      return ab;
    },
    write: (name: string, data: unknown, offset?: number, size?: number) =>
      core.storageCall(() => {
        const bytes = toBytes(data);
        return st.write(String(name), bytes, offset, size);
      }),
    writeJSON: (name: string, data: unknown) =>
      core.storageCall(() => {
        const s = core.realm.intrinsics.JSON.stringify(data);
        core.inFlight(s.length);
        return st.write(String(name), fromLatin1(s));
      }),
    erase: (name: string) => core.storageCall(() => st.erase(String(name))),
    eraseAll: () => core.storageCall(() => st.eraseAll()),
    compact: () => {
      core.storageCall(() => st.compact());
    },
    list: (re?: unknown) => {
      let names = st.list();
      if (re !== undefined && re !== null) {
        names = names.filter((n) => (typeof re === "string" ? n.indexOf(re) >= 0 : (re as RegExp).test(n)));
      }
      return core.ctxValue(names);
    },
    getFree: () => st.getFree(),
    getStats: () => core.ctxValue(st.getStats()),
    hash: undefined,
  };
}

/**
 * require("Flash") (src/jswrap_flash.c) over the Storage area, at the board's addresses (storageStart): read,
 * write (jshFlashWriteAligned: bits only clear; each 256-byte chunk is one flash step, so a power cut can land
 * inside), erasePage, getPage, getFree (the Linux builds give their whole fake flash, targets/linux; a board
 * gives its free pages outside Storage and firmware, which the emulator does not model: []). The flash outside
 * Storage (the interpreter's own firmware on a board) is not modelled: reads there give 0xFF; writes and erases
 * there throw, since on a board they would corrupt the firmware.
 */
export function flashModule(core: DeviceCore): any {
  const fl = core.storage.flash;
  const b = core.board;
  const at = (addr: unknown, len: number, what: string): number => {
    const o = Number(addr) - b.storageStart;
    if (!(o >= 0 && o + len <= fl.bytes.length))
      throw new core.realm.intrinsics.Error("emulator: Flash." + what + " outside Storage (0x" + Number(addr).toString(16) + ")");
    return o;
  };
  return {
    read: (length: number, addr: number) => {
      const n = length | 0;
      if (n <= 0) return undefined;
      core.alloc(2 + stringBlocks(n, core.layout));
      const out = new core.realm.intrinsics.Uint8Array(n).fill(0xff);
      const o = (addr | 0) - b.storageStart;
      for (let i = 0; i < n; i++) if (o + i >= 0 && o + i < fl.bytes.length) out[i] = fl.bytes[o + i];
      return out;
    },
    write: (data: unknown, addr: number) =>
      core.storageCall(() => {
        const bytes = toBytes(data);
        if (bytes.length) fl.program(at(addr, bytes.length, "write"), bytes);
      }),
    erasePage: (addr: number) => core.storageCall(() => fl.erasePage(Math.floor(at(addr, 1, "erasePage") / fl.pageBytes))),
    getPage: (addr: number) => {
      const o = Number(addr) - b.storageStart;
      if (!(o >= 0 && o < fl.bytes.length)) return undefined;
      return core.ctxValue({ addr: b.storageStart + o - (o % fl.pageBytes), length: fl.pageBytes });
    },
    getFree: () => core.ctxValue(isLinux(b) ? [{ addr: b.storageStart, length: fl.bytes.length }] : []),
  };
}
