// The terminal QR is a faithful picture of the QR matrix (decoded back from the half blocks), and the
// demo runs from start to end as a newcomer sees it (`hwtotp demo`), with every check passing.
import QRCode from "qrcode";
import { describe, expect, it } from "vitest";
import { renderTerminalQr } from "../../host/src/qr.ts";
import { ensureHostBuilt, runCli } from "../harness/cli-harness.ts";

/** Half blocks back to modules: light = drawn (the default, for dark terminals). */
function decode(art: string): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of art.replace(/\n$/, "").split("\n")) {
    const top: boolean[] = [];
    const bottom: boolean[] = [];
    for (const ch of line) {
      top.push(ch === "\u2588" || ch === "\u2580");
      bottom.push(ch === "\u2588" || ch === "\u2584");
    }
    rows.push(top, bottom);
  }
  return rows;
}

describe("renderTerminalQr", () => {
  it.each([0, 2])("draws every module of the QR matrix (margin %i)", async (margin) => {
    const text = "otpauth://totp/hwtotp:x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=hwtotp";
    const qr = QRCode.create(text, { errorCorrectionLevel: "M" });
    const n = qr.modules.size;
    const rows = decode(await renderTerminalQr(text, { margin }));
    for (let r = 0; r < n + 2 * margin; r++) {
      for (let c = 0; c < n + 2 * margin; c++) {
        const inside = r >= margin && c >= margin && r < n + margin && c < n + margin;
        const dark = inside && !!qr.modules.data[(r - margin) * n + (c - margin)];
        expect(rows[r][c], "module " + r + "," + c).toBe(!dark);
      }
    }
  });
});

describe("hwtotp demo", () => {
  it("runs the whole flow on the emulator and every step passes", async () => {
    await ensureHostBuilt();
    const r = await runCli(["demo", "--no-qr"]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (const n of [1, 2, 3, 4, 5, 6]) expect(r.stdout).toMatch(new RegExp("^" + n + "\\. ", "m"));
    expect(r.stdout.match(/\u2713/g)!.length).toBe(5);
    expect(r.stdout).toMatch(/otpauth \(RFC 6238\) computes (\d{6}) from the same seed at the token's time: they agree\./);
    const [, got] = /child: OS_PASSCODE=(\d{6}) is in my environment; my argv \(1 entry\) does not hold it\./.exec(r.stdout)!;
    expect(r.stdout).toContain("the child received the token's code " + got + " and exited 0.");
  }, 60000);

  it("with --json tells the story on stderr and prints one summary document", async () => {
    await ensureHostBuilt();
    const r = await runCli(["demo", "--no-qr", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d).toMatchObject({ ok: true, slot: { name: "keystone", digits: 6 }, code: { agree: true }, exec: { exit: 0 } });
    expect(d.code.code).toBe(d.code.otpauth);
    expect(r.stderr).toMatch(/^6\. /m);
  }, 60000);
});
