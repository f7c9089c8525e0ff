// SHA-1 (FIPS 180-4 §6.1) in ES5-safe JavaScript, for boards without require("crypto") (Bangle.js 1, Jolt.js,
// Original). Returns an ArrayBuffer like Espruino's native hashes. Counters stay below 2^31: lengths < 256 MB.

/** The message schedule, made on first use (a board with native hashes never pays its ~30 variables). */
let W: Int32Array | null = null;

export function sha1(data: Uint8Array): ArrayBuffer {
  const len = data.length;
  if (!W) W = new Int32Array(80);
  const w = W;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  const blocks = ((len + 8) >> 6) + 1;
  for (let blk = 0; blk < blocks; blk++) {
    const base = blk * 64;
    for (let i = 0; i < 16; i++) {
      let v = 0;
      for (let j = 0; j < 4; j++) {
        const p = base + i * 4 + j;
        v = (v << 8) | (p < len ? data[p] : p === len ? 0x80 : 0);
      }
      w[i] = v;
    }
    if (blk === blocks - 1) {
      w[14] = Math.floor(len / 0x20000000);
      w[15] = (len << 3) | 0;
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let i = 0; i < 80; i++) {
      const f = i < 20 ? (b & c) | (~b & d) : i < 40 || i >= 60 ? b ^ c ^ d : (b & c) | (b & d) | (c & d);
      const k = i < 20 ? 0x5a827999 : i < 40 ? 0x6ed9eba1 : i < 60 ? 0x8f1bbcdc | 0 : 0xca62c1d6 | 0;
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const hs = [h0, h1, h2, h3, h4];
  for (let i = 0; i < 20; i++) out[i] = (hs[i >> 2] >>> (24 - 8 * (i & 3))) & 255;
  return out.buffer;
}
