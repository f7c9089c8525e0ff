// Secret parsing: base32 (RFC 4648 §6) in the forms users paste, hex, otpauth:// URIs (checked with
// otpauth), secret sources (stdin, @FILE, prompt), and that no error sentence repeats the secret.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import * as OTPAuth from "otpauth";
import { describe, expect, it } from "vitest";
import { EXIT, UsageError } from "../../host/src/errors.ts";
import { buildUri, encodeBase32, nameFromUri, parseBase32, parseHex, parseUri, toHex } from "../../host/src/secret.ts";
import { readSecret } from "../../host/src/secret-input.ts";

const RFC_HEX = "3132333435363738393031323334353637383930"; // RFC 6238 Appendix B, "12345678901234567890"
const RFC_B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

describe("parseBase32", () => {
  it.each([
    ["upper case", RFC_B32],
    ["lower case", RFC_B32.toLowerCase()],
    ["groups of four with spaces", RFC_B32.replace(/(.{4})/g, "$1 ").trim()],
    ["hyphens and a newline", RFC_B32.slice(0, 16) + "-\n" + RFC_B32.slice(16)],
    ["padding", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ===="],
  ])("accepts %s", (_what, input) => {
    expect(toHex(parseBase32(input))).toBe(RFC_HEX);
  });

  it("agrees with otpauth's decoder on random keys", () => {
    for (let i = 0; i < 50; i++) {
      const s = new OTPAuth.Secret({ size: 10 + (i % 55) });
      expect(toHex(parseBase32(s.base32))).toBe(s.hex.toLowerCase());
      expect(encodeBase32(parseBase32(s.base32))).toBe(s.base32);
    }
  });

  it.each([
    ["a character outside the alphabet", "GEZDGNBVGY3TQOJ1GEZDGNBVGY3TQOJQ", /character 16 .* not a letter A–Z or a digit 2–7/],
    ["a length that is no whole number of bytes", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQA", /33 characters/],
    ["a key below 80 bits", "GEZDGNBVGY3TQ", /8 bytes; a key must be 10 to 64 bytes/],
    ["nothing", "  ", /empty/],
  ])("refuses %s without echoing it", (_what, input, msg) => {
    const err = (() => {
      try {
        parseBase32(input);
      } catch (e) {
        return e as UsageError;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.exitCode).toBe(EXIT.USAGE);
    expect(err!.message).toMatch(msg);
    if (input.trim()) expect(err!.message).not.toContain(input.slice(0, 8));
  });
});

describe("parseHex", () => {
  it("accepts hex with colons, spaces, 0x and upper case", () => {
    expect(toHex(parseHex("0x" + RFC_HEX.toUpperCase()))).toBe(RFC_HEX);
    expect(toHex(parseHex(RFC_HEX.replace(/(..)/g, "$1:").slice(0, -1)))).toBe(RFC_HEX);
  });
  it.each([
    ["odd", RFC_HEX + "3"],
    ["non-hex", RFC_HEX.slice(0, -1) + "g"],
    ["short", "3132"],
  ])("refuses %s", (_w, input) => {
    expect(() => parseHex(input)).toThrow(UsageError);
  });
});

describe("parseUri", () => {
  it("honours every parameter", async () => {
    const c = await parseUri(
      "otpauth://totp/ACME%20Co:alice@example.com?secret=" + RFC_B32 + "&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60",
    );
    expect(toHex(c.key)).toBe(RFC_HEX);
    expect(c).toMatchObject({ alg: "SHA256", digits: 8, period: 60, issuer: "ACME Co", label: "alice@example.com" });
    expect(nameFromUri(c)).toBe("ACME Co:alice@example.com");
  });

  it("leaves unset parameters unset (the defaults apply later)", async () => {
    const c = await parseUri("otpauth://totp/bob?secret=" + RFC_B32);
    expect(c.alg).toBeUndefined();
    expect(c.digits).toBeUndefined();
    expect(c.period).toBeUndefined();
    expect(nameFromUri(c)).toBe("bob");
  });

  it.each([
    ["not a URI", "https://example.com", /must start with otpauth/],
    ["HOTP", "otpauth://hotp/x?secret=" + RFC_B32 + "&counter=1", /HOTP/],
    ["an unknown parameter", "otpauth://totp/x?secret=" + RFC_B32 + "&image=http://x", /"image" is not supported/],
    ["a repeated parameter", "otpauth://totp/x?secret=" + RFC_B32 + "&digits=6&digits=8", /twice/],
    ["7 digits", "otpauth://totp/x?secret=" + RFC_B32 + "&digits=7", /7 digits/],
    ["a period of 0", "otpauth://totp/x?secret=" + RFC_B32 + "&period=0", /period/],
    ["a period of 301", "otpauth://totp/x?secret=" + RFC_B32 + "&period=301", /301 s/],
    [
      "MD5",
      "otpauth://totp/x?secret=" + RFC_B32 + "&algorithm=MD5",
      /^The URI's algorithm "MD5" is not supported: use SHA1, SHA256 or SHA512\.$/,
    ],
    ["digits=abc", "otpauth://totp/x?secret=" + RFC_B32 + "&digits=abc", /^The URI's digits "abc" is not a number: use 6 or 8\.$/],
    [
      "period=30s",
      "otpauth://totp/x?secret=" + RFC_B32 + "&period=30s",
      /^The URI's period "30s" is not allowed: use a whole number of seconds from 1 to 300\.$/,
    ],
    [
      "an empty algorithm",
      "otpauth://totp/x?secret=" + RFC_B32 + "&algorithm=",
      /algorithm "" is not supported: use SHA1, SHA256 or SHA512/,
    ],
    ["no secret", "otpauth://totp/x?issuer=y", /no secret/],
    [
      "an issuer that disagrees with the label",
      "otpauth://totp/ACME:bob?secret=" + RFC_B32 + "&issuer=Evil",
      /label names the issuer "ACME" but its issuer parameter says "Evil"/,
    ],
    ["a bad secret", "otpauth://totp/x?secret=GEZDG1BVGY3TQOJQ", /secret/],
  ])("refuses %s", async (_w, uri, msg) => {
    const err = await parseUri(uri).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(msg);
    expect(err.message).not.toContain("GEZDG");
  });

  it("builds URIs that otpauth reads back to the same generator", async () => {
    const key = parseHex(RFC_HEX);
    const uri = buildUri({ key, name: "cloud", issuer: "Keystone", alg: "SHA1", digits: 6, period: 30 });
    const otp = OTPAuth.URI.parse(uri) as OTPAuth.TOTP;
    expect(otp.secret.hex.toLowerCase()).toBe(RFC_HEX);
    expect(otp.issuer).toBe("Keystone");
    expect(otp.label).toBe("cloud");
    // RFC 6238 Appendix B: T = 59 → 94287082 (8 digits), 287082 (6 digits)
    expect(otp.generate({ timestamp: 59000 })).toBe("287082");
    const back = await parseUri(uri);
    expect(toHex(back.key)).toBe(RFC_HEX);
  });
});

describe("readSecret", () => {
  it("reads stdin for -", async () => {
    const stdin = Readable.from([Buffer.from(RFC_B32 + "\n")]) as unknown as NodeJS.ReadStream;
    expect(await readSecret("-", { what: "Secret", stdin })).toEqual({ from: "stdin", value: RFC_B32 });
  });
  it("reads a file for @FILE", async () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-")), "s");
    fs.writeFileSync(f, RFC_B32 + "\n", { mode: 0o600 });
    expect((await readSecret("@" + f, { what: "Secret" })).value).toBe(RFC_B32);
    await expect(readSecret("@" + f + ".missing", { what: "Secret" })).rejects.toThrow(/no such file/);
  });
  it("refuses to prompt without a terminal", async () => {
    const stdin = Readable.from([]) as unknown as NodeJS.ReadStream;
    await expect(readSecret(true, { what: "Secret", stdin })).rejects.toThrow(/No terminal.*pass -/);
  });
  it("warns that a literal is visible, without repeating it", async () => {
    let said = "";
    const stderr = { write: (s: string) => ((said += s), true) } as unknown as NodeJS.WriteStream;
    expect((await readSecret(RFC_B32, { what: "Secret", stderr })).value).toBe(RFC_B32);
    expect(said).toMatch(/shell history/);
    expect(said).not.toContain(RFC_B32);
  });
});
