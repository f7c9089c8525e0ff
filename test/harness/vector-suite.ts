// One TOTP vector suite, many implementations (host reference, firmware modules in Node, the bundle in the
// emulator, a real board): RFC 4226 Appendix D, RFC 6238 Appendix B, then seeded-random cases against otpauth.
import { describe, expect, it } from "vitest";
import * as OTPAuth from "otpauth";
import rfc4226 from "../vectors/rfc4226.json";
import rfc6238 from "../vectors/rfc6238.json";

export interface VectorCase {
  keyHex: string; // lower-case hex secret
  alg: string; // "SHA1" | "SHA256" | "SHA512"
  digits: number; // 6 | 8
  period: number; // seconds
  t: number; // Unix seconds (may carry a fraction) to compute at
}

export interface VectorImpl {
  name: string;
  /** Hashes this implementation can compute; cases for other hashes are not generated. */
  algs: string[];
  /** Returns one code per case, in order. */
  generate(cases: VectorCase[]): Promise<string[]>;
  /**
   * Times the implementation can compute at, [minT, maxT). Default 2020-01-01 .. 2100-01-01, which is what a
   * device with its own clock accepts. Pure modules pass minT 0 and a large maxT (e.g. 2 ** 40), which adds
   * RFC vectors before 2020 and counters above 2 ** 32.
   */
  minT?: number;
  maxT?: number;
  /** Number of random cases (default 1000; never fewer than 1000 when running the suite). */
  random?: number;
  seed?: number;
}

export const DEVICE_MIN_T = 1577836800; // 2020-01-01T00:00:00Z (LIMITS.CLOCK_MIN)
export const DEVICE_MAX_T = 4102444800; // 2100-01-01T00:00:00Z

/** The reference: otpauth's TOTP. */
export function referenceCode(c: VectorCase): string {
  return OTPAuth.TOTP.generate({
    secret: OTPAuth.Secret.fromHex(c.keyHex),
    algorithm: c.alg,
    digits: c.digits,
    period: c.period,
    timestamp: c.t * 1000,
  });
}

/** mulberry32: small, seeded, good enough to pick test cases reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function bounds(impl: VectorImpl): [number, number] {
  return [impl.minT ?? DEVICE_MIN_T, impl.maxT ?? DEVICE_MAX_T];
}

function inRange(impl: VectorImpl, t: number): boolean {
  const [lo, hi] = bounds(impl);
  return t >= lo && t < hi;
}

export interface NamedCase extends VectorCase {
  expected: string;
  label: string;
}

/** RFC 4226 Appendix D as TOTP cases: counter c at period 30 is t = 30·c (only for impls that reach t < 2020). */
export function rfc4226Cases(impl: VectorImpl): NamedCase[] {
  const out: NamedCase[] = [];
  for (const c of rfc4226.cases) {
    const t = c.counter * 30;
    if (!inRange(impl, t) || impl.algs.indexOf(rfc4226.alg) < 0) continue;
    out.push({
      keyHex: rfc4226.keyHex,
      alg: rfc4226.alg,
      digits: rfc4226.digits,
      period: 30,
      t,
      expected: c.code,
      label: "RFC 4226 D count=" + c.counter,
    });
  }
  return out;
}

export function rfc6238Cases(impl: VectorImpl): NamedCase[] {
  const out: NamedCase[] = [];
  const keys = rfc6238.keys as { [alg: string]: string };
  for (const c of rfc6238.cases) {
    if (!inRange(impl, c.t) || impl.algs.indexOf(c.alg) < 0) continue;
    out.push({
      keyHex: keys[c.alg],
      alg: c.alg,
      digits: rfc6238.digits,
      period: rfc6238.period,
      t: c.t,
      expected: c.code,
      label: "RFC 6238 B " + c.alg + " T=" + c.t,
    });
  }
  return out;
}

/** Seeded-random cases (secret, time, digits, period, algorithm), plus edge times, checked against otpauth. */
export function randomCases(impl: VectorImpl): NamedCase[] {
  const rnd = seededRandom(impl.seed ?? 0x7077);
  const n = Math.max(1000, impl.random ?? 1000);
  const [lo, hi] = bounds(impl);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const out: NamedCase[] = [];
  const push = (c: VectorCase, label: string) => {
    if (!inRange(impl, c.t)) return;
    out.push({ ...c, expected: referenceCode(c), label });
  };
  const key = () => {
    const len = rnd() < 0.5 ? pick([10, 16, 20, 32, 64]) : 10 + Math.floor(rnd() * 55);
    let h = "";
    for (let i = 0; i < len; i++)
      h += Math.floor(rnd() * 256)
        .toString(16)
        .padStart(2, "0");
    return h;
  };
  const period = () => (rnd() < 0.4 ? 30 : rnd() < 0.3 ? 60 : 1 + Math.floor(rnd() * 300));
  for (let i = 0; i < n; i++) {
    const p = period();
    let t = lo + Math.floor(rnd() * (Math.min(hi, lo + 2 ** 40) - lo - 1));
    if (rnd() < 0.25) t += Math.floor(rnd() * 8) / 8;
    push({ keyHex: key(), alg: pick(impl.algs), digits: pick([6, 8]), period: p, t }, "random #" + i);
  }
  // Step edges: the last instant of a step and the first of the next.
  for (let i = 0; i < 24; i++) {
    const p = period();
    const base = Math.ceil((lo + rnd() * Math.min(hi - lo, 2 ** 33)) / p) * p;
    const c = { keyHex: key(), alg: impl.algs[i % impl.algs.length], digits: pick([6, 8]), period: p };
    push({ ...c, t: base - 0.125 }, "edge before " + base);
    push({ ...c, t: base }, "edge at " + base);
  }
  // Counters around and above 2^32 (only pure modules reach these times): period 1 and t near 2^32, 2^33.
  for (const t of [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 33 + 12345, 2 ** 35 + 7, 2 ** 40 - 3]) {
    for (const alg of impl.algs) {
      push({ keyHex: key(), alg, digits: 8, period: 1, t }, "counter>2^32 " + alg + " t=" + t);
      push({ keyHex: key(), alg, digits: 6, period: 30, t: t * 30 }, "counter>2^32 " + alg + " t=30*" + t);
    }
  }
  return out;
}

function check(impl: VectorImpl, cases: NamedCase[], got: string[]): void {
  expect(got.length, impl.name + " returned one code per case").toBe(cases.length);
  const bad: string[] = [];
  for (let i = 0; i < cases.length; i++) {
    if (got[i] !== cases[i].expected) {
      const c = cases[i];
      bad.push(`${c.label}: ${c.alg}/${c.digits}/${c.period}s t=${c.t} key=${c.keyHex}: got ${got[i]}, want ${c.expected}`);
    }
  }
  expect(bad.slice(0, 10), bad.length + " of " + cases.length + " codes differ").toEqual([]);
}

function strip(cases: NamedCase[]): VectorCase[] {
  return cases.map((c) => ({ keyHex: c.keyHex, alg: c.alg, digits: c.digits, period: c.period, t: c.t }));
}

/** Registers a vitest describe block that runs every vector against `impl`. Call at a test file's top level. */
export function runVectorSuite(impl: VectorImpl): void {
  describe("TOTP vectors: " + impl.name, () => {
    const r4226 = rfc4226Cases(impl);
    const r6238 = rfc6238Cases(impl);
    if (r4226.length > 0) {
      it("matches RFC 4226 Appendix D (" + r4226.length + " values)", async () => {
        check(impl, r4226, await impl.generate(strip(r4226)));
      });
    }
    it("matches RFC 6238 Appendix B (" + r6238.length + " values within its time range)", async () => {
      expect(r6238.length).toBeGreaterThan(0);
      check(impl, r6238, await impl.generate(strip(r6238)));
    });
    it("agrees with otpauth on at least 1000 seeded-random cases", async () => {
      const cases = randomCases(impl);
      expect(cases.length).toBeGreaterThanOrEqual(1000);
      check(impl, cases, await impl.generate(strip(cases)));
    });
  });
}
