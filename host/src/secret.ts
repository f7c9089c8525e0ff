// Secret keys as users hand them over: base32 (RFC 4648 §6; any case, spaces, hyphens and "=" padding
// allowed), hex, or a Key URI (otpauth://totp/…, Google's "Key Uri Format", parsed with otpauth).
// Error sentences name positions and parameters, never the characters of a secret.
import { randomBytes } from "node:crypto";
import { ALGORITHMS, type Algorithm, LIMITS, checkName } from "../../protocol/index.ts";
import { UsageError } from "./errors.ts";

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export interface Credential {
  /** Raw key bytes; callers zero it after use. */
  key: Uint8Array;
  alg?: Algorithm;
  digits?: number;
  period?: number;
  /** From a URI: issuer and account label. */
  issuer?: string;
  label?: string;
}

function checkKeyLength(n: number, what: string): void {
  if (n < LIMITS.KEY_MIN_BYTES || n > LIMITS.KEY_MAX_BYTES) {
    throw new UsageError(
      "The " + what + " decodes to " + n + " bytes; a key must be " + LIMITS.KEY_MIN_BYTES + " to " + LIMITS.KEY_MAX_BYTES + " bytes.",
    );
  }
}

/** Decodes base32 after normalising case, whitespace, hyphens and padding. */
export function parseBase32(input: string): Uint8Array {
  const s = input
    .replace(/[\s-]+/g, "")
    .toUpperCase()
    .replace(/=+$/, "");
  if (s.length === 0) throw new UsageError("The secret is empty.");
  const out = new Uint8Array(Math.floor((s.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const v = B32.indexOf(s.charAt(i));
    if (v < 0) {
      out.fill(0);
      throw new UsageError(
        "The secret is not valid base32: character " + (i + 1) + " (after removing spaces) is not a letter A–Z or a digit 2–7.",
      );
    }
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[n++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  // RFC 4648 §6: a valid encoding has 2, 4, 5, 7 or 0 trailing characters in its last group.
  if ([1, 3, 6].includes(s.length % 8)) {
    out.fill(0);
    throw new UsageError("The secret is not valid base32: its length (" + s.length + " characters) cannot be a whole number of bytes.");
  }
  checkKeyLength(out.length, "secret");
  return out;
}

export function parseHex(input: string): Uint8Array {
  const s = input.replace(/[\s:]+/g, "").replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]*$/.test(s)) throw new UsageError("The hex key holds a character that is not 0–9 or a–f.");
  if (s.length % 2) throw new UsageError("The hex key has an odd number of digits.");
  checkKeyLength(s.length / 2, "hex key");
  return Uint8Array.from(Buffer.from(s, "hex"));
}

export function encodeBase32(key: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (let i = 0; i < key.length; i++) {
    value = ((value << 8) | key[i]) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out += B32.charAt((value << (5 - bits)) & 31);
  return out;
}

export function toHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
}

/** 20 bytes (160 bits, RFC 4226 §4 R6's recommendation) from the host's CSPRNG. */
export function generateKey(bytes = 20): Uint8Array {
  return Uint8Array.from(randomBytes(bytes));
}

const URI_PARAMS = ["secret", "issuer", "algorithm", "digits", "period"];

/** Parses an otpauth://totp URI; every parameter is honoured or refused with a reason. */
export async function parseUri(uri: string): Promise<Credential> {
  const text = uri.trim();
  if (!/^otpauth:\/\//i.test(text)) throw new UsageError("The URI must start with otpauth://.");
  const type = /^otpauth:\/\/([^/?#]*)/i.exec(text)![1].toLowerCase();
  if (type === "hotp") throw new UsageError("The URI is for HOTP (counter-based); this token is time-based (otpauth://totp/…).");
  if (type !== "totp") throw new UsageError("The URI's type must be totp, as in otpauth://totp/LABEL?secret=….");
  const q = text.indexOf("?");
  if (q < 0) throw new UsageError("The URI has no parameters; it needs at least secret=….");
  const seen = new Set<string>();
  for (const pair of text.slice(q + 1).split("&")) {
    if (!pair) continue;
    const k = safeDecode(pair.split("=")[0]).toLowerCase();
    if (seen.has(k)) throw new UsageError("The URI gives the parameter " + JSON.stringify(k) + " twice.");
    seen.add(k);
    if (!URI_PARAMS.includes(k)) {
      throw new UsageError(
        "The URI parameter " + JSON.stringify(k.slice(0, 20)) + " is not supported (only " + URI_PARAMS.join(", ") + ").",
      );
    }
  }
  if (!seen.has("secret")) throw new UsageError("The URI has no secret parameter.");
  checkUriValues(text.slice(q + 1));
  const { URI, TOTP } = await import("otpauth");
  let otp: InstanceType<typeof TOTP>;
  try {
    const parsed = URI.parse(text);
    if (!(parsed instanceof TOTP)) throw new UsageError("The URI is not a TOTP URI.");
    otp = parsed;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // otpauth's messages name the parameter ("Invalid 'digits' parameter"), never its value.
    const m = e instanceof Error ? e.message : String(e);
    throw new UsageError("The URI is not valid: " + (/^[\w '.-]+$/.test(m) ? m : "it is malformed") + ".");
  }
  // Key Uri Format: an issuer prefix in the label and the issuer parameter must agree.
  const labelText = safeDecode(text.slice(text.indexOf("/", 10) + 1, q));
  const colon = labelText.indexOf(":");
  const issuerParam = /[?&]issuer=([^&]*)/i.exec(text);
  if (colon > 0 && issuerParam && safeDecode(issuerParam[1]) !== labelText.slice(0, colon)) {
    throw new UsageError(
      "The URI's label names the issuer " +
        JSON.stringify(labelText.slice(0, colon)) +
        " but its issuer parameter says " +
        JSON.stringify(safeDecode(issuerParam[1])) +
        ".",
    );
  }
  const alg = otp.algorithm.toUpperCase().replace("-", "");
  if (!ALGORITHMS.includes(alg))
    throw new UsageError("The URI's algorithm " + otp.algorithm + " is not supported (SHA1, SHA256 or SHA512).");
  if (!LIMITS.DIGITS.includes(otp.digits)) throw new UsageError("The URI asks for " + otp.digits + " digits; this token does 6 or 8.");
  if (otp.period < LIMITS.PERIOD_MIN || otp.period > LIMITS.PERIOD_MAX) {
    throw new UsageError("The URI's period of " + otp.period + " s is outside " + LIMITS.PERIOD_MIN + "–" + LIMITS.PERIOD_MAX + " s.");
  }
  const key = Uint8Array.from(otp.secret.bytes);
  checkKeyLength(key.length, "URI's secret");
  return {
    key,
    alg: seen.has("algorithm") ? (alg as Algorithm) : undefined,
    digits: seen.has("digits") ? otp.digits : undefined,
    period: seen.has("period") ? otp.period : undefined,
    issuer: otp.issuer || undefined,
    label: otp.label || undefined,
  };
}

/**
 * Our sentences for the parameters otpauth would only call "Invalid": each names what is allowed. Values
 * other than the secret's may be shown (cut short); they are no secret.
 */
function checkUriValues(query: string): void {
  const shown = (v: string) => JSON.stringify(v.length > 12 ? v.slice(0, 12) + "…" : v);
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    const k = safeDecode(eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? "" : safeDecode(pair.slice(eq + 1));
    if (k === "algorithm" && !ALGORITHMS.includes(v.toUpperCase().replace("-", ""))) {
      throw new UsageError("The URI's algorithm " + shown(v) + " is not supported: use SHA1, SHA256 or SHA512.");
    }
    if (k === "digits" && !(/^\d+$/.test(v) && LIMITS.DIGITS.includes(Number(v)))) {
      throw new UsageError(
        /^\d+$/.test(v)
          ? "The URI asks for " + Number(v) + " digits; this token does 6 or 8."
          : "The URI's digits " + shown(v) + " is not a number: use 6 or 8.",
      );
    }
    if (k === "period" && !(/^\d+$/.test(v) && Number(v) >= LIMITS.PERIOD_MIN && Number(v) <= LIMITS.PERIOD_MAX)) {
      const allowed = "use a whole number of seconds from " + LIMITS.PERIOD_MIN + " to " + LIMITS.PERIOD_MAX + ".";
      throw new UsageError(
        /^\d+$/.test(v)
          ? "The URI's period of " + Number(v) + " s is outside " + LIMITS.PERIOD_MIN + "–" + LIMITS.PERIOD_MAX + " s: " + allowed
          : "The URI's period " + shown(v) + " is not allowed: " + allowed,
      );
    }
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A slot name from a URI: "issuer:label" when it fits, else the label, else the issuer. */
export function nameFromUri(c: Credential): string | null {
  const cands = [c.issuer && c.label ? c.issuer + ":" + c.label : null, c.label, c.issuer];
  for (const n of cands) if (n && checkName(n) === null) return n;
  return null;
}

export interface UriParts {
  key: Uint8Array;
  name: string;
  issuer?: string;
  alg: Algorithm;
  digits: number;
  period: number;
}

/** The otpauth:// URI an authenticator app enrols from. Contains the secret: show it only on request. */
export function buildUri(p: UriParts): string {
  const label = (p.issuer ? encodeURIComponent(p.issuer) + ":" : "") + encodeURIComponent(p.name);
  const q = ["secret=" + encodeBase32(p.key)];
  if (p.issuer) q.push("issuer=" + encodeURIComponent(p.issuer));
  q.push("algorithm=" + p.alg, "digits=" + p.digits, "period=" + p.period);
  return "otpauth://totp/" + label + "?" + q.join("&");
}
