// Where the hwtotp package lies on disk (the folder whose package.json is named hwtotp), found from this
// module, whether it runs from source or from the bundle in host/dist: the firmware bundle, the board files
// and the keystoneauth plugin are read from there. Shared by the host and the emulator.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package root above `from` (a file path), or null when no package.json named hwtotp is above it. */
export function findPackageRoot(from: string = fileURLToPath(import.meta.url)): string | null {
  let dir = path.dirname(from);
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, "utf8")).name === "hwtotp") return dir;
      } catch {
        /* not ours: keep looking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The package root, or the working folder when this module sits outside the package. */
export function packageRoot(): string {
  return findPackageRoot() ?? process.cwd();
}

/** The firmware bundle `hwtotp flash` writes and the emulator runs. */
export function defaultFirmwarePath(): string {
  return path.join(packageRoot(), "firmware", "dist", "firmware.js");
}
