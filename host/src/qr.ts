// QR codes for enrolling a backup authenticator: terminal art in half-block characters (two module rows
// per text line) and PNG files (mode 0600: they hold the secret). The qrcode package is loaded lazily.
import fs from "node:fs";

/**
 * Renders text as a QR code with U+2580/U+2584/U+2588: light modules are drawn, dark ones left blank, so
 * it scans on the usual dark terminal; `invert` for light backgrounds. Quiet zone of `margin` modules.
 */
export async function renderTerminalQr(text: string, opts: { invert?: boolean; margin?: number } = {}): Promise<string> {
  const QR = (await import("qrcode")).default;
  const qr = QR.create(text, { errorCorrectionLevel: "M" });
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

/** Writes a PNG QR code readable only by its owner. */
export async function writeQrPng(file: string, text: string): Promise<void> {
  const QR = (await import("qrcode")).default;
  const buf = await QR.toBuffer(text, { type: "png", errorCorrectionLevel: "M", margin: 4, scale: 8 });
  fs.writeFileSync(file, buf, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  buf.fill(0);
}
