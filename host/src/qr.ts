// QR codes for enrolling a backup authenticator: terminal art in half-block characters (two module rows
// per text line) and PNG files (mode 0600: they hold the secret). The qrcode package is loaded lazily.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { UsageError } from "./errors.ts";
import { createPrivateFile } from "./private-file.ts";

/** The QR code as the qrcode package builds it; a text too long for any QR version is a UsageError. */
async function createQr(text: string) {
  const QR = (await import("qrcode")).default;
  try {
    return { QR, qr: QR.create(text, { errorCorrectionLevel: "M" }) };
  } catch {
    throw new UsageError("The otpauth URI (" + text.length + " characters) is too long for a QR code; use a shorter name or --issuer.");
  }
}

/**
 * Renders text as a QR code with U+2580/U+2584/U+2588: light modules are drawn, dark ones left blank, so
 * it scans on the usual dark terminal; `invert` for light backgrounds. Quiet zone of `margin` modules.
 */
export async function renderTerminalQr(text: string, opts: { invert?: boolean; margin?: number } = {}): Promise<string> {
  const { qr } = await createQr(text);
  const size = qr.modules.size;
  const data = qr.modules.data;
  const margin = opts.margin ?? 2;
  const n = size + 2 * margin;
  const light = (r: number, c: number): boolean => {
    const rr = r - margin;
    const cc = c - margin;
    const dark = rr >= 0 && cc >= 0 && rr < size && cc < size && !!data[rr * size + cc];
    return opts.invert ? dark : !dark;
  };
  const lines: string[] = [];
  for (let r = 0; r < n; r += 2) {
    let line = "";
    for (let c = 0; c < n; c++) {
      const top = light(r, c);
      const bottom = r + 1 < n ? light(r + 1, c) : false;
      line += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    lines.push(line);
  }
  return lines.join("\n") + "\n";
}

/** A PNG written next to its destination, not yet in place: commit() renames it there, discard() removes it. */
export interface PreparedPng {
  file: string;
  commit(): void;
  discard(): void;
}

const WHY: { [code: string]: string } = {
  ENOENT: "no such folder",
  ENOTDIR: "a part of the path is not a folder",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left",
  EDQUOT: "over the disk quota",
  EISDIR: "it is a folder",
};

/** The sentence for a PNG that cannot be written (never a secret: only the path the user gave). */
export function pngWriteSentence(file: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code ?? "";
  return "Cannot write the QR code to " + file + ": " + (WHY[code] ?? (code || "error")) + ".";
}

/**
 * Renders the PNG and writes it, mode 0600, to a hidden temporary file in the destination's folder, so a
 * path that cannot be written fails here (a UsageError), before anything is stored on the device; the
 * rename that puts it in place cannot fail for want of space or permission on the folder.
 */
export async function preparePng(file: string, text: string): Promise<PreparedPng> {
  const { QR } = await createQr(text); // also refuses a text too long for a QR code
  let isDir = false;
  try {
    isDir = fs.statSync(file).isDirectory();
  } catch {
    // absent: fine
  }
  if (isDir) throw new UsageError("Cannot write the QR code to " + file + ": it is a folder.");
  const buf = await QR.toBuffer(text, { type: "png", errorCorrectionLevel: "M", margin: 4, scale: 8 });
  const tmp = path.join(path.dirname(file), "." + path.basename(file) + "." + randomBytes(6).toString("hex") + ".tmp");
  let fd = -1;
  try {
    fd = createPrivateFile(tmp);
    fs.writeSync(fd, buf);
    fs.fsyncSync(fd);
  } catch (e) {
    if (fd >= 0) fs.rmSync(tmp, { force: true });
    throw new UsageError(pngWriteSentence(file, e));
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    buf.fill(0);
  }
  let placed = false;
  return {
    file,
    commit() {
      fs.renameSync(tmp, file);
      placed = true;
    },
    discard() {
      if (!placed) fs.rmSync(tmp, { force: true });
    },
  };
}
