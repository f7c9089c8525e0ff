// Session against the firmware in the emulator on TCP (through the fake device front where the test watches
// the requests or unplugs it): every op, typed errors, timeouts, REPL and version detection, replies split
// across many chunks, and an unplug mid-request.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ERR, encodeOk } from "../../protocol/index.ts";
import { EXIT, FirmwareError, NoSuchSlotError, SlotExistsError, DeviceFullError, TimeoutError, ClockError } from "../../host/src/errors.ts";
import { createLink } from "../../host/src/link/index.ts";
import { Session } from "../../host/src/session.ts";
import { type FakeDevice, startFakeDevice } from "../harness/fake-device.ts";
import { totp } from "../harness/totp.ts";
import { type EmuTarget, startEmu } from "../harness/emulator-harness.ts";

const KEY = "3132333435363738393031323334353637383930"; // RFC 6238 Appendix B SHA1 seed
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

/** The firmware in the emulator (a user confirms what it asks a press for). */
async function device(o: Parameters<typeof startEmu>[0] = {}): Promise<EmuTarget> {
  emu = await startEmu({ autoPress: true, ...o });
  return emu;
}

/** The fake device front, passing requests to the firmware in the emulator. */
async function front(): Promise<FakeDevice> {
  dev = await startFakeDevice({ behind: (await device()).emu });
  return dev;
}

async function connect(d: { address: string }, timeoutMs = 1000): Promise<Session> {
  return Session.connect(await createLink(d.address), { timeoutMs });
}

describe("session", () => {
  it("runs every op and returns the protocol's data shapes", async () => {
    const s = await connect(await device(), 5000);
    expect(s.info?.proto).toBe(1);
    expect((await s.add({ name: "a", key: KEY })).slot).toEqual({ name: "a", alg: "SHA1", digits: 6, period: 30, touch: false });
    expect((await s.list()).slots.map((x) => x.name)).toEqual(["a"]);
    const c = await s.code("a");
    expect(c.codes[0].code).toBe(totp(Buffer.from(KEY, "hex"), c.t));
    expect((await s.time()).set).toBe(true);
    expect((await s.delete("a")).name).toBe("a");
    expect((await s.wipe()).slots).toBe(0);
    await s.close();
  });

  it("maps device error codes to typed errors with exit codes", async () => {
    const d = await device();
    const s = await connect(d, 5000);
    await expect(s.delete("nope")).rejects.toBeInstanceOf(NoSuchSlotError);
    await s.add({ name: "a", key: KEY });
    await expect(s.add({ name: "a", key: KEY })).rejects.toBeInstanceOf(SlotExistsError);
    for (let i = 1; i < s.info!.slots.max; i++) await s.add({ name: "f" + i, key: KEY });
    const full = await s.add({ name: "b", key: KEY }).catch((e) => e);
    expect(full).toBeInstanceOf(DeviceFullError);
    expect(full.code).toBe(ERR.FULL);
    expect(full.exitCode).toBe(EXIT.REFUSED);
    d.emu.control.powerCycle(); // a Pico's RTC loses the time without power
    await expect(s.code("a")).rejects.toBeInstanceOf(ClockError);
    await s.close();
  });

  it("keeps concurrent requests apart by id", async () => {
    const s = await connect(await front(), 5000);
    await s.add({ name: "x", key: KEY });
    const rs = await Promise.all([s.list(), s.time(), s.code("x"), s.hello(), s.list()]);
    expect(rs[0]).toHaveProperty("slots");
    expect(rs[1]).toHaveProperty("raw");
    expect(rs[2]).toHaveProperty("codes");
    expect(rs[3]).toHaveProperty("fw");
    const ids = dev!.requests.map((l) => JSON.parse(l).id);
    expect(new Set(ids).size).toBe(ids.length);
    await s.close();
  });

  it("times out on a silent device with a sentence naming the op", async () => {
    dev = await startFakeDevice({ mode: "silent" });
    const t0 = Date.now();
    const err = await connect(dev, 300).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toMatch(/No answer from tcp:\/\/127\.0\.0\.1:\d+ to hello within 0\.3 s/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("recognises a bare Espruino REPL and says to flash", async () => {
    const err = await connect(await device({ flashed: false })).catch((e) => e);
    expect(err).toBeInstanceOf(FirmwareError);
    expect(err.repl).toBe(true);
    expect(err.exitCode).toBe(EXIT.FIRMWARE);
    expect(err.message).toMatch(/plain Espruino REPL.*hwtotp flash/);
  });

  it.each([
    [
      "newer",
      "v2",
      /The device speaks protocol 2, this host speaks protocol 1\. Upgrade this host .* or flash the firmware that matches it with `hwtotp flash`\./,
    ],
    ["older", "v0", /The device speaks protocol 0, this host speaks protocol 1\. Update the firmware with `hwtotp flash`\./],
  ] as const)("names both protocol versions and what to do when the firmware is %s", async (_w, mode, msg) => {
    dev = await startFakeDevice({ mode });
    const err = await connect(dev).catch((e) => e);
    expect(err).toBeInstanceOf(FirmwareError);
    expect(err.exitCode).toBe(EXIT.FIRMWARE);
    expect(err.message).toMatch(msg);
  });

  it("reassembles replies split into single characters", async () => {
    const server = net.createServer((sock) => {
      sock.setEncoding("utf8");
      let buf = "";
      sock.on("data", async (s: string) => {
        buf += s;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const req = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          const d =
            req.op === "hello"
              ? { fw: "é-1", proto: 1, board: "X", algs: ["SHA1"], slots: { used: 0, max: 32 }, clock: {}, heap: {} }
              : { slots: [], max: 32 };
          const out = "noise before\r\n" + encodeOk(req.id, d);
          for (const ch of Buffer.from(out)) {
            sock.write(Buffer.from([ch]));
            await new Promise((r) => setImmediate(r));
          }
        }
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const s = await Session.connect(await createLink("tcp://127.0.0.1:" + port));
    expect(s.info?.fw).toBe("é-1");
    expect((await s.list()).max).toBe(32);
    await s.close();
  });

  it("fails a request whose reply is longer than the protocol allows, and stays usable", async () => {
    const server = net.createServer((sock) => {
      sock.setEncoding("utf8");
      sock.on("data", (s: string) => {
        for (const line of s.split("\n").filter(Boolean)) {
          const req = JSON.parse(line);
          sock.write(req.op === "list" ? encodeOk(req.id, { pad: "x".repeat(9000) }) : encodeOk(req.id, { slots: [], max: 32 }));
        }
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const s = new Session(await createLink("tcp://127.0.0.1:" + (server.address() as net.AddressInfo).port), { timeoutMs: 5000 });
    await s.link.open();
    const t0 = Date.now();
    await expect(s.list()).rejects.toThrow(/longer than 8192 characters/);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await s.time()).toEqual({ slots: [], max: 32 });
    await s.close();
  });

  it("fails pending requests as disconnected when the device goes away", async () => {
    const s = await connect(await front(), 5000);
    dev!.mode = "silent";
    const p = s.list().catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    dev!.dropAll();
    const err = await p;
    expect(err.disconnected).toBe(true);
    expect(err.exitCode).toBe(EXIT.NO_DEVICE);
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(s.list()).rejects.toMatchObject({ disconnected: true });
  });

  it("says nothing listens when the port is closed", async () => {
    const link = await createLink("tcp://127.0.0.1:1");
    await expect(link.open()).rejects.toMatchObject({ exitCode: EXIT.NO_DEVICE, message: expect.stringMatching(/nothing is listening/) });
  });
});
