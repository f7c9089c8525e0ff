// A small seeded generator (an LCG) for tests that draw random sequences reproducibly: the fuzzer, the clock
// scenarios' latencies, the forward-bound sequences. Seed 0 is taken as 1.
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
