// The emulator's state file (--state FILE): the board's flash image, kept across runs. It holds the seeds in the
// clear (unless a PIN encrypts them): a private file (0600), never read or written through a symlink.
import fs from "node:fs";
import { writePrivateFile } from "../../host/src/private-file.ts";
import type { BoardProfile } from "./boards.ts";
import type { Flash } from "./storage.ts";

/** The flash image saved in `file` for `board`; undefined when there is no file (a fresh board). */
export function loadState(file: string | undefined, board: BoardProfile): Uint8Array | undefined {
  if (!file) return undefined;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new Error("State file " + file + " is a symlink; name the file itself.");
    throw e;
  }
  let text: string;
  try {
    text = fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
  const o = JSON.parse(text);
  if (o.board !== board.name) throw new Error("State file " + file + " belongs to board " + o.board + ", not " + board.name + ".");
  return new Uint8Array(Buffer.from(o.flash, "base64"));
}

/** Saves the used part of the flash image. */
export function saveState(file: string, board: BoardProfile, flash: Flash): void {
  writePrivateFile(
    file,
    JSON.stringify({ v: 1, board: board.name, flash: Buffer.from(flash.bytes.subarray(0, flash.usedLength())).toString("base64") }),
  );
}
