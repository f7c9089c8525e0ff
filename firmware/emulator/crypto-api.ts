// require("crypto") as the board's interpreter has it (libs/crypto/jswrap_crypto.c), on node:crypto.
import { createCipheriv, createDecipheriv, createHash, pbkdf2Sync } from "node:crypto";
import { definer, toBytes, type DeviceCore } from "./core.ts";

/**
 * require("crypto") (libs/crypto/jswrap_crypto.c): SHA1 and the board's SHA256 (+SHA224) / SHA512 (+SHA384),
 * PBKDF2 where built with TLS, AES where built with AES or TLS. Every result is an ArrayBuffer. Like the device,
 * the functions are not enumerable (Object.keys(require("crypto")) is []).
 */
export function cryptoModule(dev: DeviceCore): any {
  const api: any = {};
  const def = definer(api);
  const hashes = (dev.board.hashes || []).slice();
  if (hashes.indexOf("SHA256") >= 0) hashes.push("SHA224");
  if (hashes.indexOf("SHA512") >= 0) hashes.push("SHA384");
  for (const h of hashes) {
    const algo = h.toLowerCase();
    def(h, (data: unknown) => {
      const digest = createHash(algo).update(toBytes(data)).digest();
      return dev.ctxBuffer(new Uint8Array(digest));
    });
  }
  if (dev.board.pbkdf2) {
    // jswrap_crypto_PBKDF2: keySize in 32-bit words (default 4, also for <= 0), iterations (default and minimum 1),
    // hasher by name (default SHA1; a name the board lacks throws "Unknown Hasher"); options that are not an
    // object only print an error and the defaults apply.
    def("PBKDF2", function (pass: unknown, salt: unknown, options?: any) {
      let keySize = 4;
      let iterations = 1;
      let hasher = "SHA1";
      if (options !== null && typeof options === "object" && !Array.isArray(options)) {
        keySize = Math.trunc(+options.keySize || 0);
        if (!(keySize > 0)) keySize = 4;
        iterations = Math.trunc(+options.iterations || 0);
        if (!(iterations >= 1)) iterations = 1;
        if (options.hasher !== undefined) {
          hasher = String(options.hasher);
          if (hashes.indexOf(hasher) < 0) throw new dev.realm.intrinsics.Error("Unknown Hasher " + JSON.stringify(hasher));
        }
      } else if (options !== undefined) dev.jsError("Options should be an object or undefined, got " + typeName(options));
      const key = pbkdf2Sync(toBytes(pass), toBytes(salt), iterations, keySize * 4, hasher.toLowerCase());
      return dev.ctxBuffer(new Uint8Array(key));
    });
  }
  if (dev.board.aes) {
    // jswrap_crypto_AEScrypt: key 128/192/256 bits, options {iv (16 bytes, default zeros), mode CBC (default,
    // no padding: the length must be a multiple of 16), CFB (CFB8), CTR (counter from zero, iv unused), ECB
    // (whole blocks only)}; OFB and bad lengths fail with a printed error and undefined.
    const crypt = (encrypt: boolean) =>
      function (message: unknown, key: unknown, options?: any) {
        let iv: Uint8Array = new Uint8Array(16);
        let mode = "CBC";
        if (options !== null && typeof options === "object") {
          if (options.iv !== undefined) {
            const b = toBytes(options.iv);
            iv = new Uint8Array(16);
            iv.set(b.subarray(0, 16));
          }
          if (options.mode !== undefined) {
            mode = String(options.mode);
            if (["CBC", "CFB", "CTR", "OFB", "ECB"].indexOf(mode) < 0)
              throw new dev.realm.intrinsics.Error("Unknown Crypto mode " + JSON.stringify(mode));
          }
        } else if (options !== undefined) {
          dev.jsError("'options' must be undefined, or an Object");
          return undefined;
        }
        const msg = toBytes(message);
        const k = toBytes(key);
        if ([16, 24, 32].indexOf(k.length) < 0) {
          dev.jsError("Invalid key length");
          return undefined;
        }
        const bits = k.length * 8;
        let out: Uint8Array;
        try {
          if (mode === "CBC") {
            if (msg.length % 16) throw new Error("Invalid input length");
            const c = encrypt ? createCipheriv("aes-" + bits + "-cbc", k, iv) : createDecipheriv("aes-" + bits + "-cbc", k, iv);
            c.setAutoPadding(false);
            out = new Uint8Array(Buffer.concat([c.update(msg), c.final()]));
          } else if (mode === "CFB") {
            const c = encrypt ? createCipheriv("aes-" + bits + "-cfb8", k, iv) : createDecipheriv("aes-" + bits + "-cfb8", k, iv);
            out = new Uint8Array(Buffer.concat([c.update(msg), c.final()]));
          } else if (mode === "CTR") {
            const c = createCipheriv("aes-" + bits + "-ctr", k, new Uint8Array(16));
            out = new Uint8Array(Buffer.concat([c.update(msg), c.final()]));
          } else if (mode === "ECB") {
            out = new Uint8Array(msg.length);
            const whole = msg.length - (msg.length % 16);
            const c = encrypt ? createCipheriv("aes-" + bits + "-ecb", k, null) : createDecipheriv("aes-" + bits + "-ecb", k, null);
            c.setAutoPadding(false);
            out.set(Buffer.concat([c.update(msg.subarray(0, whole)), c.final()]));
          } else throw new Error("Feature unavailable");
        } catch (e) {
          dev.jsError((e as Error).message);
          return undefined;
        }
        return dev.ctxBuffer(out);
      };
    const AES: any = {};
    Object.defineProperty(AES, "encrypt", { value: crypt(true), writable: true, configurable: true, enumerable: false });
    Object.defineProperty(AES, "decrypt", { value: crypt(false), writable: true, configurable: true, enumerable: false });
    def("AES", AES);
  }
  return api;
}

/** The type name Espruino's %t prints (jsvGetTypeOf-ish: Number, String, Boolean, Array, Object, Function). */
function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "Array";
  const t = typeof v;
  return t === "number"
    ? "Number"
    : t === "string"
      ? "String"
      : t === "boolean"
        ? "Boolean"
        : t === "function"
          ? "Function"
          : t === "undefined"
            ? "undefined"
            : "Object";
}
