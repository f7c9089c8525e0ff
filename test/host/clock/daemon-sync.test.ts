// The daemon with the clock keeper (as `hwtotp daemon` wires it): a device whose clock is off is synced on
// connect, before clients use it, and a sync through Daemon.withDevice queues with client requests.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../../../firmware/emulator/index.ts";
import { Daemon } from "../../../host/src/daemon.ts";
import { connectDaemon } from "../../../host/src/daemon-client.ts";
import { Session } from "../../../host/src/session.ts";
import { autoSync, createClockKeeper, measureOffset } from "../../../host/src/clock/index.ts";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  cleanup = [];
});

describe("daemon clock keeping", () => {
  it("syncs a device that is 4 s ahead on connect, and syncs again through the request queue", async () => {
    const emu: Emulator = createEmulator({ board: "puckjs", clock: Date.now() / 1000 + 4 });
    await emu.start();
    cleanup.push(() => emu.stop());
    const { port } = await emu.listen();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-clock-"));
    cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const lines: string[] = [];
    const keeper = createClockKeeper({ log: (l) => lines.push(l), hostClock: null });
    cleanup.push(async () => keeper.stop());
    const d = new Daemon({
      socketPath: path.join(dir, "d.sock"),
      device: "tcp://127.0.0.1:" + port,
      log: (l) => lines.push(l),
      onConnect: (s) => keeper.onConnect(s),
    });
    keeper.attach((fn) => d.withDevice(fn));
    await d.start();
    cleanup.push(() => d.stop());
    const link = await connectDaemon(path.join(dir, "d.sock"));
    expect(link).not.toBeNull();
    const s = new Session(link!);
    cleanup.push(() => s.close());
    const m = await measureOffset(s);
    expect(lines.join("\n")).toMatch(/clock: set \(correcting by -(3\.9|4\.0)\d+ s\)/);
    expect(m.device.synced).not.toBeNull();
    expect(m.offset).toBeLessThanOrEqual(m.uncertainty);
    expect(m.offset).toBeGreaterThan(-2);
    expect(keeper.nextMs()).toBeGreaterThan(0);
    const again = await d.withDevice((dev) => autoSync(dev, { hostClock: null }));
    expect(again.ok).toBe(true);
    expect(again.report!.plan.action).toBe("skip");
  });
});
