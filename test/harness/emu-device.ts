// A token for the integration suites: the firmware in the emulator (the Linux build's profile: no button, so
// deletes need no press; every hash) behind the fake device front on TCP, which logs the requests and can
// inject an error reply (hook). The seeds the tests need to check codes are the ones the slots were added
// with: those the front saw in add requests and those added here.
import type { EmulatorOptions } from "../../firmware/emulator/index.ts";
import { startEmu, type EmuTarget } from "./emulator-harness.ts";
import { type FakeDevice, startFakeDevice } from "./fake-device.ts";

export interface EmuDevice extends FakeDevice {
  target: EmuTarget;
  slotCount(): Promise<number>;
  hasSlot(name: string): Promise<boolean>;
  /** The seed slot `name` was last added with (through the front or addSlot). */
  keyOf(name: string): Buffer;
  /** Adds a slot directly (not through the front: not in `requests`). */
  addSlot(name: string, key: Buffer): Promise<void>;
  deleteSlot(name: string): Promise<void>;
  /** Moves the device's RTC by `seconds` (not a settime: no drift, bias or guard involved). */
  shiftClock(seconds: number): void;
}

export async function startEmuDevice(o: { board?: string; autoPress?: EmulatorOptions["autoPress"] } = {}): Promise<EmuDevice> {
  const target = await startEmu({ board: o.board ?? "linux", autoPress: o.autoPress });
  const front = await startFakeDevice({ behind: target.emu });
  /** Seeds added here, with how many requests the front had seen then. */
  const added = new Map<string, { key: Buffer; at: number }>();
  const keyOf = (name: string): Buffer => {
    const here = added.get(name);
    for (let i = front.requests.length - 1; i >= (here ? here.at : 0); i--) {
      const q = JSON.parse(front.requests[i]) as { op?: string; a?: { name?: string; key?: string } };
      if (q.op === "add" && q.a?.name === name && typeof q.a.key === "string") return Buffer.from(q.a.key, "hex");
    }
    if (!here) throw new Error("no slot named " + name + " was added");
    return here.key;
  };
  const withSession = async <T>(f: (s: Awaited<ReturnType<EmuTarget["session"]>>) => Promise<T>): Promise<T> => {
    const s = await target.session();
    try {
      return await f(s);
    } finally {
      await s.close();
    }
  };
  const close = front.close;
  return Object.assign(front, {
    target,
    slotCount: async () => (await target.inspect()).slots.length,
    hasSlot: async (name: string) => (await target.inspect()).slots.some((s) => s.name === name),
    keyOf,
    addSlot: (name: string, key: Buffer) =>
      withSession(async (s) => {
        await s.add({ name, key: key.toString("hex") });
        added.set(name, { key, at: front.requests.length });
      }),
    deleteSlot: (name: string) => withSession(async (s) => void (await s.delete(name))),
    shiftClock: (seconds: number) => target.emu.control.setClock(target.emu.control.now() + seconds),
    close: async () => {
      await close();
      await target.stop();
    },
  });
}
