import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CodeInfo } from "../../../../protocol/index.ts";
import {
  MIN_LEFT_S,
  RGW_CHECKS_PER_STEP,
  dispensePin,
  emptyState,
  judge,
  notePinUsed,
  noteResync,
  readState,
  record,
  replayIndex,
  withLock,
  writeState,
} from "../../../../host/src/integrations/ceph/pin-dispenser.ts";
import { totp } from "../../../harness/totp.ts";

const P = 30;
const T0 = 1_800_000_000_000; // ms, a step boundary (1.8e9 s / 30)

function dir(): string {
  return mkdtempSync(join(tmpdir(), "hwtotp-mfa-test-"));
}

/** A token on a virtual clock: `offset` seconds ahead of the host; sleep advances the clock. */
function virtualToken(o: { offset?: number; start?: number; serial?: string } = {}) {
  const key = Buffer.from("3132333435363738393031323334353637383930", "hex");
  const clock = { now: o.start ?? T0 + 1000, offset: o.offset ?? 0, reads: 0 };
  const readCode = async (): Promise<CodeInfo> => {
    clock.reads++;
    const t = clock.now / 1000 + clock.offset;
    const step = Math.floor(t / P);
    return { name: "ceph", code: totp(key, t), step, left: (step + 1) * P - t, period: P, touch: false, serial: o.serial ?? "hw-1" };
  };
  return {
    clock,
    readCode,
    now: () => clock.now,
    sleep: async (ms: number) => {
      clock.now += ms;
    },
  };
}

describe("RGW's replay index", () => {
  it("is the server step plus the distance to the pin's step, sign lost", () => {
    const s = Math.floor(T0 / 1000 / P);
    expect(replayIndex(s, P, T0 + 5000, 0)).toBe(s);
    expect(replayIndex(s - 1, P, T0 + 5000, 0)).toBe(s + 1); // a pin from one step ago burns the next step too
    expect(replayIndex(s + 1, P, T0 + 5000, 0)).toBe(s + 1);
    expect(replayIndex(s + 20, P, T0 + 5000, -570)).toBe(s + 20); // after a resync of a token 600 s ahead
  });
});

describe("pin judgement", () => {
  const s = Math.floor(T0 / 1000 / P);
  const at = T0 + 2000;
  const cases: {
    what: string;
    st: Partial<ReturnType<typeof emptyState>>;
    c: { step: number; left: number };
    ok: boolean;
    waitMs?: number;
  }[] = [
    { what: "a fresh serial takes the current pin", st: {}, c: { step: s, left: 28 }, ok: true },
    {
      what: "the same step again waits for the next step",
      st: { lastStep: s, lastIndex: s },
      c: { step: s, left: 28 },
      ok: false,
      waitMs: 28150,
    },
    {
      what: "a step behind the last waits two steps",
      st: { lastStep: s, lastIndex: s },
      c: { step: s - 1, left: 10 },
      ok: false,
      waitMs: 10150 + P * 1000,
    },
    {
      what: "a step nearly over waits for the next",
      st: {},
      c: { step: s, left: MIN_LEFT_S - 1 },
      ok: false,
      waitMs: (MIN_LEFT_S - 1) * 1000 + 150,
    },
    { what: "the next step after a used one is fine", st: { lastStep: s - 1, lastIndex: s - 1 }, c: { step: s, left: 28 }, ok: true },
    {
      what: "a late pin's burnt index blocks the next step",
      st: { lastStep: s - 2, lastIndex: s },
      c: { step: s, left: 28 },
      ok: false,
      waitMs: 28150,
    },
  ];
  for (const k of cases) {
    it(k.what, () => {
      const st = { ...emptyState("hw-1"), ...k.st };
      const v = judge(st, { ...k.c, period: P }, at);
      expect(v.ok).toBe(k.ok);
      if (!v.ok) expect(v.waitMs).toBe(k.waitMs);
    });
  }

  it("refuses to wait when the token is far behind the last pin, and says why", () => {
    const st = { ...emptyState("hw-1"), lastStep: s + 20, lastIndex: s + 20 };
    const v = judge(st, { step: s, left: 20, period: P }, at);
    expect(v).toMatchObject({ ok: false, waitMs: -1 });
    expect(!v.ok && v.why).toMatch(/behind the last pin.*hwtotp time sync/);
  });

  it(`never lets more than ${RGW_CHECKS_PER_STEP} checks fall within one step`, () => {
    let st = emptyState("hw-1");
    for (let i = 0; i < RGW_CHECKS_PER_STEP; i++) st = record(st, s - 10, s - 10, at - 20000 + i * 1000, P);
    const v = judge(st, { step: s, left: 28, period: P }, at);
    expect(v.ok).toBe(false);
    // The oldest of the five leaves the sliding step 10 s from now.
    expect(!v.ok && v.waitMs).toBe(10150);
    expect(judge(st, { step: s, left: 28, period: P }, at + 10150).ok).toBe(true);
  });
});

describe("pin dispenser", () => {
  it("hands out two pins in one step by waiting for the next step, never the same step twice", async () => {
    const d = dir();
    const tok = virtualToken();
    const a = await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: d, now: tok.now, sleep: tok.sleep });
    const b = await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: d, now: tok.now, sleep: tok.sleep });
    expect(a.header).toBe("hw-1 " + a.pin);
    expect(b.step).toBe(a.step + 1);
    expect(b.waitedMs).toBeGreaterThan(0);
    expect(b.waitedMs).toBeLessThanOrEqual(P * 1000 + 500);
  });

  it("a burst of 10 uses 10 pins in 10 consecutive steps", async () => {
    const d = dir();
    const tok = virtualToken();
    const steps: number[] = [];
    for (let i = 0; i < 10; i++)
      steps.push((await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: d, now: tok.now, sleep: tok.sleep })).step);
    expect(new Set(steps).size).toBe(10);
    expect(steps[9] - steps[0]).toBe(9);
  });

  it("keeps its state in a 0600 file in a 0700 directory, without the pin", async () => {
    const d = join(dir(), "mfa");
    const tok = virtualToken();
    const a = await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: d, now: tok.now, sleep: tok.sleep });
    const f = join(d, "serial-hw-1.json");
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(readFileSync(f, "utf8")).not.toContain(a.pin);
    expect(readState(d, "hw-1").lastStep).toBe(a.step);
  });

  it("waits for the next step when the current one is nearly over", async () => {
    const tok = virtualToken({ start: T0 + (P - 2) * 1000 });
    const a = await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: dir(), now: tok.now, sleep: tok.sleep });
    expect(a.step).toBe(Math.floor(T0 / 1000 / P) + 1);
    expect(a.left).toBeGreaterThan(P - 1);
  });

  it("needs a serial from the slot or the caller", async () => {
    const tok = virtualToken();
    const noSerial = async () => ({ ...(await tok.readCode()), serial: undefined });
    await expect(dispensePin({ name: "ceph", readCode: noSerial, stateDir: dir() })).rejects.toThrow(/has no serial/);
    const p = await dispensePin({ name: "ceph", serial: "given-1", readCode: noSerial, stateDir: dir(), now: tok.now, sleep: tok.sleep });
    expect(p.serial).toBe("given-1");
    await expect(dispensePin({ name: "ceph", serial: "other", readCode: tok.readCode, stateDir: dir() })).rejects.toThrow(
      /registered with serial hw-1/,
    );
  });

  it("after a resync, uses RGW's offset for the token and keeps the replay index", async () => {
    const d = dir();
    const tok = virtualToken({ offset: 600 }); // the token runs 10 min ahead
    const a = await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: d, now: tok.now, sleep: tok.sleep });
    const st = await noteResync(d, "hw-1", a.step + 1, -570);
    expect(st).toMatchObject({ timeOfs: -570, lastStep: a.step + 1 });
    const b = await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: d, now: tok.now, sleep: tok.sleep });
    expect(b.step).toBe(a.step + 2);
  });

  it("reads a torn state file as empty rather than refusing every pin", () => {
    const d = dir();
    writeFileSync(join(d, "serial-hw-1.json"), '{"lastStep": 12');
    expect(readState(d, "hw-1")).toEqual(emptyState("hw-1"));
    writeState(d, { ...emptyState("hw-1"), lastStep: 5 });
    expect(readState(d, "hw-1").lastStep).toBe(5);
  });
});

describe("serial lock", () => {
  it("serialises holders and is gone afterwards", async () => {
    const d = dir();
    const log: string[] = [];
    const hold = (tag: string) =>
      withLock(d, "hw-1", async () => {
        log.push(tag + "+");
        await new Promise((r) => setTimeout(r, 50));
        log.push(tag + "-");
      });
    await Promise.all([hold("a"), hold("b"), hold("c")]);
    for (let i = 0; i < log.length; i += 2) expect(log[i].slice(0, 1)).toBe(log[i + 1].slice(0, 1));
    expect(existsSync(join(d, "serial-hw-1.json.lock"))).toBe(false);
  });

  it("breaks a lock whose holder is dead", async () => {
    const d = dir();
    writeFileSync(join(d, "serial-hw-1.json.lock"), "2147483646");
    await expect(withLock(d, "hw-1", async () => "got it")).resolves.toBe("got it");
  });
});

describe("pin use", () => {
  it("a pin checked after its step ended makes the dispenser skip the step RGW burnt with it", async () => {
    const d = dir();
    const tok = virtualToken();
    const a = await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: d, now: tok.now, sleep: tok.sleep });
    // The S3 request took until 1 s into the next step: RGW matched the pin at offset −1, index step+2.
    tok.clock.now += Math.ceil(a.left * 1000) + 1000;
    await notePinUsed(d, a, tok.clock.now);
    expect(readState(d, "hw-1").lastIndex).toBe(a.step + 2);
    const b = await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: d, now: tok.now, sleep: tok.sleep });
    expect(b.step).toBe(a.step + 3);
  });

  it("a pin used within its step changes nothing", async () => {
    const d = dir();
    const tok = virtualToken();
    const a = await dispensePin({ name: "ceph", readCode: tok.readCode, stateDir: d, now: tok.now, sleep: tok.sleep });
    await notePinUsed(d, a, tok.clock.now + 1000);
    expect(readState(d, "hw-1").lastIndex).toBe(a.step);
  });
});
