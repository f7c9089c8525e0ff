// The firmware's TOTP/HMAC modules in Node: on Node's crypto wrapped to behave like Espruino's (ArrayBuffer
// results), and on the JS SHA-1 fallback. Same vector suite as every other implementation.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { blockSize, detectHashes, makePads, type CryptoLike, type Hashes } from "../../firmware/src/hmac";
import { computeHotp, computeTotp } from "../../firmware/src/totp";
import { sha1 } from "../../firmware/src/sha1";
import { runVectorSuite, type VectorCase } from "../harness/vector-suite";

function nodeHash(name: string) {
  return (d: Uint8Array): ArrayBuffer => {
    const b = createHash(name).update(d).digest();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
  };
}

const espruinoLikeCrypto: CryptoLike = { SHA1: nodeHash("sha1"), SHA256: nodeHash("sha256"), SHA512: nodeHash("sha512") };

function hexBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

function generator(hashes: Hashes) {
  return async (cases: VectorCase[]) =>
    cases.map((c) => {
      const h = hashes[c.alg]!;
      const b = blockSize(c.alg);
      return computeTotp({ h, b, p: makePads(h, b, hexBytes(c.keyHex)) }, c.t, c.period, c.digits);
    });
}

runVectorSuite({
  name: "firmware totp/hmac on native-like crypto (ArrayBuffer results)",
  algs: ["SHA1", "SHA256", "SHA512"],
  minT: 0,
  maxT: 2 ** 40,
  generate: generator(detectHashes(espruinoLikeCrypto)),
});

runVectorSuite({
  name: "firmware totp/hmac on the JS SHA-1 fallback (no crypto module)",
  algs: ["SHA1"],
  minT: 0,
  maxT: 2 ** 40,
  seed: 99,
  generate: generator(detectHashes(undefined)),
});

describe("firmware hash selection", () => {
  it("uses the JS SHA-1 when there is no crypto module, and offers only SHA1", () => {
    const h = detectHashes(undefined);
    expect(h.SHA1).toBe(sha1);
    expect(h.SHA256).toBeUndefined();
    expect(h.SHA512).toBeUndefined();
  });
  it("offers exactly the hashes the crypto module has (Puck.js: SHA1/256)", () => {
    const h = detectHashes({ SHA1: espruinoLikeCrypto.SHA1, SHA256: espruinoLikeCrypto.SHA256 });
    expect(Object.keys(h).filter((k) => h[k])).toEqual(["SHA1", "SHA256"]);
  });
});

describe("JS SHA-1", () => {
  it("matches node:crypto for every length 0..300 (padding edges at 55/56/64)", () => {
    for (let n = 0; n <= 300; n++) {
      const d = new Uint8Array(randomBytes(n));
      expect(Buffer.from(sha1(d)).toString("hex"), "length " + n).toBe(createHash("sha1").update(d).digest("hex"));
    }
  });
});

describe("HMAC pads", () => {
  it("HMAC from stored pads equals node:crypto HMAC for all hashes and key lengths 10..64", () => {
    const hashes = detectHashes(espruinoLikeCrypto);
    for (const alg of ["SHA1", "SHA256", "SHA512"]) {
      for (let n = 10; n <= 64; n += 9) {
        const key = new Uint8Array(randomBytes(n));
        const b = blockSize(alg);
        const pads = makePads(hashes[alg]!, b, key);
        const msg = new Uint8Array([0, 0, 0, 1, 2, 3, 4, 5]);
        const k = { h: hashes[alg]!, b, p: pads };
        // HOTP with a known counter through the public function, checked against node's HMAC
        const mac = createHmac(alg.toLowerCase(), key).update(msg).digest();
        const o = mac[mac.length - 1] & 15;
        const want = String((mac.readUInt32BE(o) & 0x7fffffff) % 1e8).padStart(8, "0");
        expect(computeHotp(k, 0x0102030405, 8)).toBe(want);
      }
    }
  });
});
