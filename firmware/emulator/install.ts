// Flashing the firmware bundle into the emulated board's Storage, as `hwtotp flash` lays it out.
import fs from "node:fs";
import path from "node:path";
import { defaultFirmwarePath } from "../../host/src/paths.ts";
import { fromLatin1, latin1, type Storage } from "./storage.ts";

/**
 * Writes the firmware (`firmwarePath`, default firmware/dist/firmware.js) as .bootcde, with the boot guard beside
 * it as .boot0 and the pad, unless Storage already holds them. `flashed`: false writes nothing; true (or a
 * firmwarePath) requires the bundle; undefined skips a missing bundle. True when the bundle is in Storage now (the
 * flash image is then to be saved).
 */
export function installFirmware(storage: Storage, o: { flashed?: boolean; firmwarePath?: string }): boolean {
  if (o.flashed === false) return false;
  const fw = o.firmwarePath || defaultFirmwarePath();
  if (!fs.existsSync(fw)) {
    if (o.flashed === true || o.firmwarePath) throw new Error("Firmware bundle " + fw + " not found: run npm run build.");
    return false;
  }
  const code = fs.readFileSync(fw, "latin1");
  // the boot guard beside it, as `hwtotp flash` writes it (firmware/src/guard.ts), unless a firmwarePath
  // names another bundle
  const guardFile = path.join(path.dirname(fw), "boot0.js");
  const guard = !o.firmwarePath && fs.existsSync(guardFile) ? fs.readFileSync(guardFile, "latin1") : null;
  const cur = storage.readBytes(".bootcde");
  const had = storage.readBytes(".boot0");
  if (!cur || latin1(cur) !== code || (guard !== null && (!had || latin1(had) !== guard))) {
    // Firmware and guard first, then the files kept (as after `hwtotp flash`, minus its erase), so that no
    // compaction ever moves the running firmware.
    const keep = storage
      .list()
      .filter((n) => n !== ".bootcde" && n !== ".boot0" && n !== ".hwtpad")
      .map((n) => ({ n, b: storage.readBytes(n)! }));
    storage.eraseAll();
    storage.write(".bootcde", fromLatin1(code));
    if (guard !== null) storage.write(".boot0", fromLatin1(guard));
    // the pad `hwtotp flash` writes (host/src/flash.ts PAD_FILE): nothing else shares the firmware's pages
    const pageBytes = storage.flash.pageBytes;
    const end = storage.scan().end;
    const r = (end + 32) % pageBytes;
    if (end % pageBytes) storage.write(".hwtpad", new Uint8Array(r ? pageBytes - r : pageBytes));
    for (const f of keep) storage.write(f.n, f.b);
  }
  return true;
}
