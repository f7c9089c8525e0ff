// The daemon's clock keeper: syncs on connect, schedules the next sync by the policy, logs, never throws.
import { describe, expect, it } from "vitest";
import { createClockKeeper, type ClockPort } from "../../host/src/clock/index.ts";
import { SimDevice } from "./sim-device.ts";

const T0 = 1_790_000_000;

describe("clock keeper", () => {
  it("syncs on connect, logs it, and schedules an early sync for a board whose drift is unknown", async () => {
    const dev = new SimDevice(T0, 120, T0 + 3);
    const lines: string[] = [];
    const keeper = createClockKeeper({ log: (l) => lines.push(l), now: () => dev.trueTime, hostClock: null });
    keeper.attach(async (fn) => fn(dev));
    await keeper.onConnect(dev);
    expect(lines.join("\n")).toMatch(/clock: set \(correcting by -3\.0\d\d s\)/);
    expect(Math.abs(dev.now() - dev.trueTime)).toBeLessThan(1);
    const next = keeper.nextMs()!;
    expect(next).toBeGreaterThan(500_000);
    expect(next).toBeLessThan(3_600_000);
    keeper.stop();
    expect(keeper.nextMs()).toBeNull();
  });

  it("logs a refused jump as a warning and does not throw", async () => {
    const dev = new SimDevice(T0, 0, T0 - 3600);
    const lines: string[] = [];
    const keeper = createClockKeeper({ log: (l) => lines.push(l), now: () => dev.trueTime, hostClock: null });
    keeper.attach(async (fn) => fn(dev));
    await keeper.onConnect(dev);
    expect(lines.join("\n")).toMatch(/warning: A correction of 3600\.0 s exceeds the bound/);
    expect(dev.writes).toBe(0);
    keeper.stop();
  });

  it("a clock lost to a power cut on a device with slots: said once, no loop, no forced set; a forced sync clears it", async () => {
    const dev = new SimDevice(T0, 0);
    dev.slots = 1;
    const lines: string[] = [];
    let runs = 0;
    const keeper = createClockKeeper({ log: (l) => lines.push(l), now: () => dev.trueTime, hostClock: null });
    keeper.attach(async (fn) => {
      runs++;
      await fn(dev);
    });
    await keeper.onConnect(dev);
    dev.powerLoss();
    await keeper.onConnect(dev);
    await keeper.onConnect(dev);
    const lost = lines.filter((l) => /lost its clock/.test(l));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/E_CLOCK.*hwtotp time sync --force.*press/);
    expect(lines.filter((l) => /warning/.test(l))).toEqual([]);
    expect(dev.isSet()).toBe(false);
    expect(dev.writes).toBe(1);
    // retries at the usual pace, not in a loop
    expect(keeper.nextMs()!).toBeGreaterThanOrEqual(500_000);
    expect(runs).toBe(0);
    // once the user has set it (force + press), syncs go on and a later loss is said again
    dev.willPress = true;
    await dev.setTime({ t: dev.trueTime, force: true });
    await keeper.onConnect(dev);
    expect(dev.isSet()).toBe(true);
    dev.powerLoss();
    await keeper.onConnect(dev);
    expect(lines.filter((l) => /lost its clock/.test(l))).toHaveLength(2);
    keeper.stop();
  });

  it("a fresh token (no slots) with an unset clock is set without a press", async () => {
    const dev = new SimDevice(T0, 0, 0);
    const lines: string[] = [];
    const keeper = createClockKeeper({ log: (l) => lines.push(l), now: () => dev.trueTime, hostClock: null });
    await keeper.onConnect(dev);
    expect(dev.isSet()).toBe(true);
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
