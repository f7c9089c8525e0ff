// Session's PIN ops and press notices against the firmware in the emulator (through the fake device front,
// which shows the requests sent and can fall silent): unlock/lock/pin shapes, a wrong PIN as
// PinError with the tries left (and the wipe), E_LOCKED naming `hwtotp unlock` with exit 9, notices handed to
// the request's and the session's listeners with the op and id, a notice extending the request's timeout,
// and a timeout sentence that never repeats an echoed PIN.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LIMITS, type PressData } from "../../protocol/index.ts";
import { EXIT, LockedError, PinError, TimeoutError } from "../../host/src/errors.ts";
import { createLink } from "../../host/src/link/index.ts";
import { Session } from "../../host/src/session.ts";
import type { EmulatorOptions } from "../../firmware/emulator/index.ts";
import { type FakeDevice, startFakeDevice } from "../harness/fake-device.ts";
import { type EmuTarget, startEmu } from "../harness/emulator-harness.ts";

const KEY = "3132333435363738393031323334353637383930";
let dev: FakeDevice | null = null;
let emu: EmuTarget | null = null;
const servers: net.Server[] = [];

afterEach(async () => {
  await dev?.close();
  dev = null;
  await emu?.stop();
  emu = null;
  for (const s of servers.splice(0)) s.close();
});

const connect = async (d: FakeDevice, o: { timeoutMs?: number; touchTimeoutMs?: number } = {}) =>
  Session.connect(await createLink(d.address), o);

/** The fake device front before the firmware in the emulator; by default a user presses whenever asked. */
async function front(autoPress: EmulatorOptions["autoPress"] = true): Promise<FakeDevice> {
  emu = await startEmu({ autoPress });
  dev = await startFakeDevice({ behind: emu.emu });
  return dev;
}

/** A token whose PIN is set and locked, `wrong` wrong PINs already tried. */
async function lockedWithPin(pin: string, wrong: number): Promise<FakeDevice> {
  const d = await front();
  const s = await connect(d);
  await s.pin({ next: pin });
  await s.lock();
  for (let i = 0; i < wrong; i++) await s.unlock("9" + pin).catch(() => {});
  await s.close();
  return d;
}

describe("session PIN ops", () => {
  it("sets, locks, unlocks, changes and clears the PIN, each returning the PinState", async () => {
    dev = await front();
    const s = await connect(dev);
    expect(s.info?.pin).toEqual({ set: false, locked: false, tries: LIMITS.PIN_TRIES, idle: 0 });
    expect(await s.pin({ next: "1234", idle: 60 })).toEqual({ set: true, locked: false, tries: 8, idle: 60 });
    expect(JSON.parse(dev.requests.at(-1)!).a).toEqual({ next: "1234", idle: 60 });
    expect(await s.lock()).toMatchObject({ set: true, locked: true });
    expect(await s.unlock("1234")).toMatchObject({ locked: false, tries: 8 });
    expect(await s.pin({ pin: "1234", next: "abcd" })).toMatchObject({ set: true });
    expect(await s.pin({ pin: "abcd" })).toEqual({ set: false, locked: false, tries: 8, idle: 0 });
    await s.close();
  });

  it("maps a wrong PIN to PinError with the tries left, and the last one to wiped", async () => {
    dev = await lockedWithPin("1234", LIMITS.PIN_TRIES - 3);
    const s = await connect(dev);
    const e3 = await s.unlock("0000").catch((e) => e);
    expect(e3).toBeInstanceOf(PinError);
    expect(e3).toMatchObject({ code: "E_PIN", tries: 2, wiped: false, exitCode: EXIT.PIN, message: "Wrong PIN: 2 tries left." });
    const e1 = await s.unlock("0000").catch((e) => e);
    expect(e1.message).toBe("Wrong PIN: 1 try left; one more wrong PIN wipes every slot and the PIN.");
    const e0 = await s.unlock("0000").catch((e) => e);
    expect(e0).toMatchObject({ tries: 0, wiped: true, exitCode: EXIT.PIN });
    expect(e0.message).toBe("Wrong PIN, and that was the last try: the token wiped every slot and its PIN.");
    for (const e of [e3, e1, e0]) expect(e.message).not.toContain("0000");
    await s.close();
  });

  it("maps E_LOCKED to LockedError: one sentence naming `hwtotp unlock`, exit 9", async () => {
    dev = await lockedWithPin("1234", 0);
    const s = await connect(dev);
    const e = await s.list().catch((x) => x);
    expect(e).toBeInstanceOf(LockedError);
    expect(e.exitCode).toBe(EXIT.PIN);
    expect(e.code).toBe("E_LOCKED");
    expect(e.message).toMatch(/^The token is locked: run `hwtotp unlock` first [^.]*\.$/);
    await s.close();
  });
});

describe("session press notices", () => {
  it("hands each notice to the request's listener and the session's, with op and id", async () => {
    dev = await front();
    const s = await connect(dev);
    await s.add({ name: "a", key: KEY });
    const seen: [PressData, string, number][] = [];
    const off = s.onPress((p, op, id) => seen.push([p, op, id]));
    expect((await s.delete("a")).name).toBe("a");
    expect(seen).toEqual([[{ what: "delete slot a", long: false, ms: 15000 }, "delete", JSON.parse(dev.requests.at(-1)!).id]]);
    const mine: PressData[] = [];
    await s.request("wipe", { confirm: "wipe" }, { onPress: (p) => mine.push(p) });
    expect(mine).toEqual([{ what: "wipe every slot", long: true, ms: 15000 }]);
    expect(seen).toHaveLength(2);
    off();
    await s.wipe();
    expect(seen).toHaveLength(2);
    await s.close();
  });

  it("a notice gives the request at least the device's wait plus a margin", async () => {
    // a user who presses 500 ms after the device asks
    dev = await front(() => {
      setTimeout(() => emu!.emu.control.pressButton(100), 500);
      return false;
    });
    await (await connect(dev)).close();
    const s = await connect(dev, { timeoutMs: 200, touchTimeoutMs: 200 });
    await s.add({ name: "a", key: KEY });
    // without the notice this would time out after 200 ms
    expect((await s.delete("a")).name).toBe("a");
    // a device that never sends one still times out
    dev.mode = "silent";
    await expect(s.delete("b")).rejects.toBeInstanceOf(TimeoutError);
    await s.close();
  });

  it("never shows an echoed request (a PIN) in a timeout sentence", async () => {
    const server = net.createServer((sock) => {
      sock.setEncoding("utf8");
      sock.on("data", (d: string) => {
        // a REPL-like echo without a line end: the tail holds the whole request
        if (d.includes('"unlock"')) sock.write(d.trim());
        else
          sock.write(
            '{"v":1,"id":' +
              JSON.parse(d).id +
              ',"ok":true,"d":{"fw":"x","proto":1,"board":"B","algs":[],"slots":{},"clock":{},"heap":{}}}\n',
          );
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const s = await Session.connect(await createLink("tcp://127.0.0.1:" + (server.address() as net.AddressInfo).port), {
      timeoutMs: 200,
      touchTimeoutMs: 200,
    });
    const e = await s.unlock("s3cr3t-pin").catch((x) => x);
    expect(e).toBeInstanceOf(TimeoutError);
    expect(e.message).toMatch(/to unlock within 0\.2 s\. It sent something else \(an echo of a request\?\)\./);
    expect(e.message).not.toContain("s3cr3t");
    await s.close();
  });
});
