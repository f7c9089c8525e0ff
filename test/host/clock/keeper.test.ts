// The daemon's clock keeper: syncs on connect, schedules the next sync by the policy, logs, never throws.
// The device is the firmware in the emulator, on virtual time (emu-harness.ts).
import { afterEach, describe, expect, it } from "vitest";
import { createClockKeeper, type ClockPort } from "../../../host/src/clock/index.ts";
import { startEmuClock, type EmuClock } from "../../harness/clock-emulator.ts";

const T0 = 1_790_000_000;
const KEY = "3132333435363738393031323334353637383930";

let open: EmuClock[] = [];
afterEach(async () => {
  for (const h of open) await h.stop().catch(() => {});
  open = [];
});

async function device(o: { board?: string; drift?: number; deviceStart?: number }): Promise<EmuClock> {
  const h = await startEmuClock({ trueStart: T0, user: true, ...o });
  open.push(h);
  return h;
}

describe("clock keeper", () => {
  it("syncs on connect, logs it, and schedules an early sync for a board whose drift is unknown", async () => {
    const dev = await device({ drift: 120, deviceStart: T0 + 3 });
    const lines: string[] = [];
    const keeper = createClockKeeper({ log: (l) => lines.push(l), now: dev.trueNow, hostClock: null });
    keeper.attach(async (fn) => fn(dev.port));
    await keeper.onConnect(dev.port);
    expect(lines.join("\n")).toMatch(/clock: set \(correcting by -3\.0\d\d s\)/);
    expect(Math.abs((await dev.state()).t - dev.trueNow())).toBeLessThan(1);
    const next = keeper.nextMs()!;
    expect(next).toBeGreaterThan(500_000);
    expect(next).toBeLessThan(3_600_000);
    keeper.stop();
    expect(keeper.nextMs()).toBeNull();
  });

  it("logs a refused jump as a warning and does not throw", async () => {
    const dev = await device({ deviceStart: T0 - 3600 });
    const lines: string[] = [];
    const keeper = createClockKeeper({ log: (l) => lines.push(l), now: dev.trueNow, hostClock: null });
    keeper.attach(async (fn) => fn(dev.port));
    await keeper.onConnect(dev.port);
    expect(lines.join("\n")).toMatch(/warning: A correction of 3600\.0 s exceeds the bound/);
    expect(dev.writes).toBe(0);
    keeper.stop();
  });

  it("a clock lost to a power cut on a device with slots: said once, no loop, no forced set; a forced sync clears it", async () => {
    const dev = await device({ board: "pico" });
    await dev.session.add({ name: "a", key: KEY });
    const lines: string[] = [];
    let runs = 0;
    const keeper = createClockKeeper({ log: (l) => lines.push(l), now: dev.trueNow, hostClock: null });
    keeper.attach(async (fn) => {
      runs++;
      await fn(dev.port);
    });
    await keeper.onConnect(dev.port);
    dev.emu.control.powerCycle();
    await keeper.onConnect(dev.port);
    await keeper.onConnect(dev.port);
    const lost = lines.filter((l) => /lost its clock/.test(l));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/E_CLOCK.*hwtotp time sync --force.*press/);
    expect(lines.filter((l) => /warning/.test(l))).toEqual([]);
    expect((await dev.state()).set).toBe(false);
    expect(dev.writes).toBe(1);
    // retries at the usual pace, not in a loop
    expect(keeper.nextMs()!).toBeGreaterThanOrEqual(500_000);
    expect(runs).toBe(0);
    // once the user has set it (force + press), syncs go on and a later loss is said again
    dev.willPress = true;
    await dev.port.setTime({ t: dev.trueNow(), force: true });
    await keeper.onConnect(dev.port);
    expect((await dev.state()).set).toBe(true);
    dev.emu.control.powerCycle();
    await keeper.onConnect(dev.port);
    expect(lines.filter((l) => /lost its clock/.test(l))).toHaveLength(2);
    keeper.stop();
  });

  it("a fresh token (no slots) with an unset clock is set without a press", async () => {
    const dev = await device({ deviceStart: 0 });
    const lines: string[] = [];
    const keeper = createClockKeeper({ log: (l) => lines.push(l), now: dev.trueNow, hostClock: null });
    await keeper.onConnect(dev.port);
    expect((await dev.state()).set).toBe(true);
    expect(lines.join("\n")).toMatch(/clock: set \(device clock unset: setting it\)/);
    keeper.stop();
  });

  it("survives a device that fails mid-sync", async () => {
    const broken: ClockPort = { time: () => Promise.reject(new Error("unplugged")), setTime: () => Promise.reject(new Error("unplugged")) };
    const lines: string[] = [];
    const keeper = createClockKeeper({ log: (l) => lines.push(l), hostClock: null });
    await keeper.onConnect(broken);
    expect(lines.join("\n")).toMatch(/Clock sync failed: unplugged/);
    keeper.stop();
  });
});
