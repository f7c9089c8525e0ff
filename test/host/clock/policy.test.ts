// Host-side clock logic on the firmware in the emulator, on virtual time (emu-harness.ts): NTP-style
// measurement, drift samples and their combination, the sync policy (bound, force, discard, skip), the
// host-clock check and resync codes.
import { afterEach, describe, expect, it } from "vitest";
import { ERR, type CodeData, type CodeInfo } from "../../../protocol/index.ts";
import {
  DEFAULT_DEVICE_RESOLUTION,
  DRIFT,
  HOST_RESOLUTION,
  POLICY,
  biasFor,
  checkHostClock,
  combineDrift,
  driftSample,
  measureOffset,
  nextSyncDelay,
  planSync,
  radosgwResyncCommand,
  resyncCodes,
  syncClock,
  timeJson,
  type ClockPort,
} from "../../../host/src/clock/index.ts";
import { startEmuClock, type EmuClock } from "../../harness/clock-emulator.ts";

const T0 = 1_790_000_000;

let open: EmuClock[] = [];
afterEach(async () => {
  for (const h of open) await h.stop().catch(() => {});
  open = [];
});

/** The firmware on virtual time, `drift` ppm, its RTC at `deviceStart` (default: true time) on a fresh token. */
async function device(drift: number, deviceStart?: number, board?: string): Promise<EmuClock> {
  const h = await startEmuClock({ trueStart: T0, drift, deviceStart, board, user: true });
  open.push(h);
  return h;
}

describe("measureOffset", () => {
  it("keeps the exchange with the smallest round trip and reports half of it plus the clocks' resolution as uncertainty", async () => {
    const dev = await device(0);
    const lat = [0.05, 0.05, 0.004, 0.001, 0.03, 0.03, 0.2, 0.2];
    let i = 0;
    dev.latency = () => lat[i++ % lat.length];
    const m = await measureOffset(dev.port, { exchanges: 4, now: () => dev.trueNow() });
    expect(m.rtt).toBeCloseTo(0.005, 6);
    expect(m.resolution).toBeCloseTo(DEFAULT_DEVICE_RESOLUTION + HOST_RESOLUTION, 9);
    expect(m.uncertainty).toBeCloseTo(0.0025 + m.resolution, 6);
    expect(m.exchanges).toBe(4);
    // asymmetric 4 ms up / 1 ms down: the midpoint is off by 1.5 ms, inside the uncertainty
    expect(Math.abs(m.offset)).toBeLessThanOrEqual(m.uncertainty);
  });

  it("reports the code clock offset and the corrected clock offset apart (bias)", async () => {
    const dev = await device(0);
    dev.latency = () => 0;
    await dev.port.setTime({ t: T0, bias: 0.4 });
    const m = await measureOffset(dev.port, { exchanges: 2, now: () => dev.trueNow() });
    expect(m.offset).toBeCloseTo(-0.4, 6);
    expect(m.clockOffset).toBeCloseTo(0, 6);
  });

  it("never reports 0: an exchange faster than any clock tick keeps the resolution of both clocks", async () => {
    const dev = await device(0);
    dev.latency = () => 0;
    const m = await measureOffset(dev.port, { exchanges: 3, now: () => dev.trueNow() });
    expect(m.rtt).toBe(0);
    expect(m.uncertainty).toBeCloseTo(1 / 32768 + 1e-6, 12);
    // the Linux build reads the host's clock: microseconds
    const linux = await measureOffset(Object.assign(dev.port, { info: { board: "LINUX" } }), { exchanges: 1, now: () => dev.trueNow() });
    expect(linux.uncertainty).toBeCloseTo(2e-6, 12);
    // the round trip is timed on the monotonic clock, not on a millisecond wall clock
    let ms = T0 * 1000;
    let mono = 0;
    const slow: ClockPort = {
      time: async () => {
        mono += 0.0006; // a 0.6 ms exchange that Date.now() would see as 0
        return { set: true, t: ms / 1000, raw: ms / 1000, ppm: 0, synced: null, samples: 0 };
      },
      setTime: async () => ({ prev: 0, t: 0, jump: false }),
    };
    const m2 = await measureOffset(slow, { exchanges: 2, now: () => Math.floor(ms) / 1000, mono: () => mono });
    expect(m2.rtt).toBeCloseTo(0.0006, 9);
    expect(m2.uncertainty).toBeCloseTo(0.0003 + m2.resolution, 9);
  });

  it("rejects a silly exchange count", async () => {
    await expect(measureOffset((await device(0)).port, { exchanges: 0 })).rejects.toThrow(RangeError);
  });
});

describe("drift samples", () => {
  const cases = [
    { drift: 300, applied: 0 },
    { drift: -300, applied: 0 },
    { drift: 42.5, applied: 40 },
    { drift: -17, applied: -20 },
    { drift: 500, applied: 480 },
  ];
  for (const c of cases) {
    it(`recover a true drift of ${c.drift} ppm with ${c.applied} ppm applied`, async () => {
      const dev = await device(c.drift);
      dev.latency = () => 0.001;
      await dev.port.setTime({ t: dev.trueNow(), ppm: c.applied, samples: 1, err: 5 });
      dev.advance(86400);
      const m = await measureOffset(dev.port, { now: dev.trueNow });
      const s = driftSample(m);
      expect(s.ok).toBe(true);
      if (!s.ok) return;
      expect(Math.abs(s.ppm - c.drift)).toBeLessThan(0.05);
      // one interval says no more than how the oscillator ran then: the floor, not the 0.05 ppm the offsets allow
      expect(s.err).toBe(DRIFT.MIN_ERR);
      expect(s.interval).toBeCloseTo(86400, 0);
    });
  }

  it("are refused too soon after a sync, with a too uncertain offset, or without an earlier sync", async () => {
    const dev = await device(100);
    dev.latency = () => 0.001;
    expect(driftSample(await measureOffset(dev.port, { now: dev.trueNow })).ok).toBe(false);
    await dev.port.setTime({ t: dev.trueNow() });
    dev.advance(10);
    const soon = driftSample(await measureOffset(dev.port, { now: dev.trueNow }));
    expect(soon.ok === false && soon.reason).toMatch(/since the last sync/);
    dev.advance(3600);
    dev.latency = () => 0.3;
    const slow = driftSample(await measureOffset(dev.port, { now: dev.trueNow }));
    expect(slow.ok === false && slow.reason).toMatch(/uncertainty/);
  });

  it("combine by inverse variance, and restart on a sample far off the estimate", () => {
    const a = combineDrift({ ppm: 10, err: 1, samples: 3 }, { ppm: 12, err: 1, interval: 0 });
    expect(a.ppm).toBeCloseTo(11, 9);
    expect(a.err).toBeCloseTo(Math.SQRT1_2, 9);
    expect(a.samples).toBe(4);
    const first = combineDrift({ ppm: 0, err: DRIFT.PRIOR_ERR, samples: 0 }, { ppm: 250, err: 2, interval: 1000 });
    expect(first).toMatchObject({ ppm: 250, err: 2, samples: 1, restarted: false });
    const off = combineDrift({ ppm: 10, err: 0.1, samples: 5 }, { ppm: 60, err: 0.1, interval: 86400 });
    expect(off).toMatchObject({ ppm: 60, samples: 1, restarted: true });
  });
});

describe("sync policy", () => {
  it("sets an unset clock, keeping the learnt drift", async () => {
    // a token that learnt its drift, then lost its clock (an STM32 board's RTC without power)
    const dev = await device(50, undefined, "pico");
    await dev.session.setTime({ t: T0, ppm: 49.8, samples: 4, err: 0.2 });
    dev.emu.control.powerCycle();
    const r = await syncClock(dev.port, { now: dev.trueNow, hostClock: null });
    expect(r.plan.action).toBe("set");
    expect(r.plan.sample.ok).toBe(false);
    const d = await dev.state();
    expect(d.set).toBe(true);
    expect(d.samples).toBe(4);
    expect(d.ppm).toBeCloseTo(49.8, 6);
    expect(r.after!.offset).toBeLessThanOrEqual(0);
  });

  it("refuses a jump above the bound without --force, and sends force with it", async () => {
    const dev = await device(0, T0 - 600);
    expect((await dev.state()).samples).toBe(0);
    const refused = await syncClock(dev.port, { now: dev.trueNow, hostClock: null });
    expect(refused.plan.action).toBe("refuse");
    expect(refused.set).toBeNull();
    expect(refused.plan.reason).toMatch(/exceeds the bound of 120 s/);
    expect(dev.writes).toBe(0);
    // the host's bound is configurable; the device keeps its own
    const wide = planSync(await measureOffset(dev.port, { now: dev.trueNow }), { maxJump: 1000 });
    expect(wide.action).toBe("set");
    await expect(syncClock(dev.port, { now: dev.trueNow, hostClock: null, maxJump: 1000 })).rejects.toMatchObject({ code: ERR.JUMP });
    await expect(syncClock(dev.port, { now: dev.trueNow, hostClock: null, force: true })).rejects.toMatchObject({ code: ERR.TOUCH });
    dev.willPress = true;
    const ok = await syncClock(dev.port, { now: dev.trueNow, hostClock: null, force: true });
    expect(ok.plan.action).toBe("jump");
    expect(ok.set!.jump).toBe(true);
    expect(Math.abs((await dev.state()).t - dev.trueNow())).toBeLessThan(1);
  });

  it("discards a measurement whose best round trip is absurd, and changes nothing", async () => {
    const dev = await device(0, T0 + 5);
    await dev.port.setTime({ t: T0 + 5, ppm: 3, samples: 2, err: 1 });
    const writes = dev.writes;
    dev.advance(86400);
    dev.latency = () => 3;
    const r = await syncClock(dev.port, { now: dev.trueNow, hostClock: null });
    expect(r.plan.action).toBe("discard");
    expect(r.plan.reason).toMatch(/round trip 6\.000 s exceeds 2 s/);
    expect(dev.writes).toBe(writes);
    const d = await dev.state();
    expect(d.ppm).toBe(3);
    expect(d.samples).toBe(2);
  });

  it("skips the write when the clock is right and nothing new was learnt", async () => {
    const dev = await device(0);
    dev.latency = () => 0.001;
    await syncClock(dev.port, { now: dev.trueNow, hostClock: null });
    const writes = dev.writes;
    dev.advance(30);
    const r = await syncClock(dev.port, { now: dev.trueNow, hostClock: null });
    expect(r.plan.action).toBe("skip");
    expect(dev.writes).toBe(writes);
  });

  it("learns no drift from a host clock that says it is unsynchronised, and warns", async () => {
    const dev = await device(200);
    dev.latency = () => 0.001;
    await syncClock(dev.port, { now: dev.trueNow, hostClock: null });
    dev.advance(7200);
    const r = await syncClock(dev.port, { now: () => dev.trueNow(), hostClock: { synchronized: false, source: "timedatectl" } });
    expect(r.plan.action).toBe("set");
    expect(r.plan.sample.ok).toBe(false);
    expect(r.warnings.join(" ")).toMatch(/not synchronised/);
    expect((await dev.state()).samples).toBe(0);
  });

  it("syncs an unmeasured board soon, a well-measured one at the configured period", () => {
    expect(nextSyncDelay({ ppm: 0, err: DRIFT.PRIOR_ERR, samples: 0 })).toBeLessThan(3600);
    expect(nextSyncDelay({ ppm: 10, err: 0.01, samples: 5 })).toBe(POLICY.INTERVAL);
    expect(nextSyncDelay({ ppm: 10, err: 0.01, samples: 5 }, 3600)).toBe(3600);
    // the bias covers the round trip and the drift uncertainty up to the next sync
    expect(biasFor({ ppm: 0, err: 1, samples: 1 }, 0.01, 86400)).toBeCloseTo(0.05 + 0.01 + 3 * 86400e-6, 2);
    expect(biasFor({ ppm: 0, err: 500, samples: 0 }, 0.01, 86400 * 30)).toBe(30);
  });
});

describe("host clock check", () => {
  it("reads timedatectl, and says unknown without it", async () => {
    expect(await checkHostClock(async () => "yes\n")).toEqual({ synchronized: true, source: "timedatectl" });
    expect(await checkHostClock(async () => "no\n")).toEqual({ synchronized: false, source: "timedatectl" });
    const enoent = Object.assign(new Error("spawn timedatectl ENOENT"), { code: "ENOENT" });
    expect(await checkHostClock(async () => Promise.reject(enoent))).toEqual({ synchronized: null, source: "no timedatectl" });
  });
});

describe("time --json fields", () => {
  it("hold offset, uncertainty, round trip, drift and last sync", async () => {
    const dev = await device(0);
    dev.latency = () => 0.001;
    await dev.port.setTime({ t: T0, ppm: 12.5, err: 0.3, samples: 3, bias: 0.1 });
    dev.advance(3600);
    const j = timeJson(await measureOffset(dev.port, { now: dev.trueNow }), { synchronized: true, source: "timedatectl" });
    expect(Object.keys(j).sort()).toEqual(
      [
        "bias",
        "clockOffset",
        "device",
        "exchanges",
        "host",
        "hostClock",
        "lastSync",
        "offset",
        "ppm",
        "ppmErr",
        "raw",
        "resolution",
        "rtt",
        "samples",
        "set",
        "sinceSync",
        "uncertainty",
        "up",
      ].sort(),
    );
    expect(j).toMatchObject({
      set: true,
      bias: 0.1,
      ppm: 12.5,
      ppmErr: 0.3,
      samples: 3,
      sinceSync: 3600,
      rtt: 0.002,
      resolution: 0.000032,
      uncertainty: 0.001031,
    });
    expect(j.lastSync).toBe(new Date(T0 * 1000).toISOString());
  });
});

describe("resync codes", () => {
  function fakeCodes(clock: { t: number }, slots: { name: string; period: number; serial?: string }[]) {
    return {
      async code(name?: string): Promise<CodeData> {
        const codes: CodeInfo[] = slots
          .filter((s) => name === undefined || s.name === name)
          .map((s) => {
            const step = Math.floor(clock.t / s.period);
            return {
              name: s.name,
              code: String(step % 1_000_000).padStart(6, "0"),
              step,
              left: (step + 1) * s.period - clock.t,
              period: s.period,
              touch: false,
              ...(s.serial ? { serial: s.serial } : {}),
            };
          });
        if (codes.length === 0) throw Object.assign(new Error("no slot"), { code: ERR.NOSLOT });
        return { t: clock.t, codes };
      },
    };
  }

  it("gives two consecutive steps per slot and the radosgw-admin command for a serial", async () => {
    const clock = { t: T0 + 7 };
    const port = fakeCodes(clock, [
      { name: "ceph", period: 30, serial: "tok-1" },
      { name: "cloud", period: 30 },
      { name: "slow", period: 60 },
    ]);
    const waits: number[] = [];
    const pairs = await resyncCodes(port, { uid: "alice", sleep: async (s) => void (clock.t += s), onWait: (s) => waits.push(s) });
    expect(pairs.map((p) => p.name).sort()).toEqual(["ceph", "cloud", "slow"]);
    for (const p of pairs) expect(Number(p.codes[1])).toBe(Number(p.codes[0]) + 1);
    const ceph = pairs.find((p) => p.name === "ceph")!;
    expect(ceph.command).toBe(
      ` CEPH_ARGS='--totp-pin=${ceph.codes[0]} --totp-pin=${ceph.codes[1]}' radosgw-admin mfa resync --uid=alice --totp-serial=tok-1`,
    );
    expect(pairs.find((p) => p.name === "cloud")!.command).toBeUndefined();
    expect(waits.length).toBe(2);
  });

  it("quotes what the shell would split", () => {
    expect(radosgwResyncCommand("<uid>", "a b", "123456", "654321")).toBe(
      " CEPH_ARGS='--totp-pin=123456 --totp-pin=654321' radosgw-admin mfa resync '--uid=<uid>' '--totp-serial=a b'",
    );
  });
});

export type { ClockPort };
