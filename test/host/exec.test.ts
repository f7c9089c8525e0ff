// freshCode: picks the only slot, asks for a name among several, and waits for the next step when the
// current one is nearly over (sleep injected, so no real waiting).
import { describe, expect, it } from "vitest";
import type { CodeData, CodeInfo } from "../../protocol/index.ts";
import { freshCode } from "../../host/src/exec.ts";
import type { Session } from "../../host/src/session.ts";

function stub(replies: { all?: CodeInfo[]; byName: CodeInfo[] }) {
  const calls: (string | undefined)[] = [];
  const s = {
    async code(name?: string): Promise<CodeData> {
      calls.push(name);
      if (name === undefined) return { t: 0, codes: replies.all ?? [] };
      return { t: 0, codes: [replies.byName.shift()!] };
    },
  } as unknown as Session;
  return { s, calls };
}

const info = (name: string, code: string | null, left: number, touch = false): CodeInfo => ({
  name,
  code,
  step: 1,
  left,
  period: 30,
  touch,
});

describe("freshCode", () => {
  it("uses the only slot without a name", async () => {
    const { s, calls } = stub({ all: [info("a", "111111", 20)], byName: [] });
    expect((await freshCode(s)).code).toBe("111111");
    expect(calls).toEqual([undefined]);
  });

  it("asks the device by name for the only slot when it is a touch slot", async () => {
    const { s, calls } = stub({ all: [info("t", null, 20, true)], byName: [info("t", "222222", 20, true)] });
    expect((await freshCode(s)).code).toBe("222222");
    expect(calls).toEqual([undefined, "t"]);
  });

  it("refuses to guess among several slots", async () => {
    const { s } = stub({ all: [info("a", "1", 20), info("b", "2", 20)], byName: [] });
    await expect(freshCode(s)).rejects.toThrow(/2 slots; pick one with --name \(a, b\)/);
  });

  it("waits out a step with fewer than minLeft seconds, then takes the next code", async () => {
    const { s, calls } = stub({ byName: [info("a", "333333", 2.4), info("a", "444444", 29.9)] });
    const slept: number[] = [];
    const waits: number[] = [];
    const c = await freshCode(s, { name: "a", minLeft: 5, onWait: (l) => waits.push(l), sleep: async (ms) => void slept.push(ms) });
    expect(c.code).toBe("444444");
    expect(calls).toEqual(["a", "a"]);
    expect(waits).toEqual([2.4]);
    expect(slept[0]).toBeGreaterThanOrEqual(2400);
    expect(slept[0]).toBeLessThan(3000);
  });

  it("does not wait when enough of the step is left", async () => {
    const { s, calls } = stub({ byName: [info("a", "555555", 5.5)] });
    expect((await freshCode(s, { name: "a", minLeft: 5, sleep: async () => expect.fail("slept") })).code).toBe("555555");
    expect(calls).toEqual(["a"]);
  });
});
