// The built bundle (firmware/dist/firmware.js) on the emulator (the one device model of the tests): every op,
// the error codes, touch, clock jumps, persistence across resets, power cuts at each flash step, and no seed
// ever on the wire or in flash. The vector suite over every board is test/firmware/emulator/vectors.test.ts.
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import * as OTPAuth from "otpauth";
import { ERR, LIMITS, createLineReader, MAX_REPLY_LINE } from "../../protocol/index.ts";
import { createEmulator, type Emulator, type EmulatorOptions } from "../../firmware/emulator/index.ts";
import { defaultFirmwarePath } from "../../host/src/paths.ts";
import { connect } from "../harness/emu-session.ts";

const T = 1700000000; // 2023-11-14
const JUMP = LIMITS.JUMP_MAX;
const KEY = "3132333435363738393031323334353637383930";
const haveFirmware = fs.existsSync(defaultFirmwarePath());

function otp(keyHex: string, t: number, alg = "SHA1", digits = 6, period = 30): string {
  return OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromHex(keyHex), algorithm: alg, digits, period, timestamp: t * 1000 });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Line = Record<string, any>;

/** The emulator seen line by line: send raw bytes, take what came back, call = one request and its reply. */
interface Board {
  emu: Emulator;
  send(s: string): void;
  /** Every line the device sent since the last take (replies and press notices), parsed. */
  take(): Line[];
  call(op: string, a?: Record<string, unknown>): Promise<Line>;
  /** Lets the emulator run (its link is asynchronous), then takes. */
  settle(): Promise<Line[]>;
}

const open: Emulator[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.stop();
});

/** Ids of the requests `call` sends (the host Session's); hand-made frames use small ids. */
const CALL_IDS = 1_000_000;

async function board(o: EmulatorOptions = {}): Promise<Board> {
  const emu = createEmulator({ board: "pico", clock: T, frozenClock: true, ...o });
  open.push(emu);
  await emu.start();
  // calls go through the host's own client; what `take` sees is the raw lines, but for the replies and
  // notices of those calls
  const client = connect(emu, 10000, { firstId: CALL_IDS });
  let lines: Line[] = [];
  const reader = createLineReader(
    MAX_REPLY_LINE,
    (l) => {
      const line = JSON.parse(l) as Line;
      if (!(typeof line.id === "number" && line.id >= CALL_IDS)) lines.push(line);
    },
    () => lines.push({ oversize: true }),
  );
  emu.onData((s) => reader.push(s));
  const tick = () => new Promise((r) => setTimeout(r, 5));
  const b: Board = {
    emu,
    send: (s) => emu.write(s),
    take() {
      const r = lines;
      lines = [];
      return r;
    },
    call: (op, a) => client.request(op, a),
    async settle() {
      for (let i = 0; i < 4; i++) await tick();
      return b.take();
    },
  };
  return b;
}

/** The next lines must be exactly the press notice of request `id`, naming `what`. */
async function expectNotice(b: Board, id: number, what: string | RegExp, long: boolean): Promise<void> {
  const r = await b.settle();
  expect(r).toHaveLength(1);
  expect(r[0]).toMatchObject({ v: 1, id, press: { long, ms: 15000 } });
  expect(r[0].press.what).toMatch(what);
}

const frame = (id: number, op: string, a: Record<string, unknown>) => JSON.stringify({ v: 1, id, op, a }) + "\n";

describe.skipIf(!haveFirmware)("firmware bundle: boot and hello", () => {
  it("moves the REPL to LoopbackA and answers hello on the console it booted on (USB on a Pico, Bluetooth on a Puck.js)", async () => {
    for (const name of ["pico", "puckjs"]) {
      const b = await board({ board: name });
      expect(b.emu.control.mode()).toBe("firmware");
      expect(b.emu.device.evalExpr("E.getConsole()")).toBe("LoopbackA");
      const r = await b.call("hello");
      expect(r.ok).toBe(true);
      expect(r.d).toMatchObject({ fw: "0.1.0", proto: 1, board: b.emu.board.envBoard, slots: { used: 0, max: 32 } });
      expect(r.d.clock.set).toBe(true);
      expect(r.d.heap.total).toBe(b.emu.board.vars);
    }
  });

  it("reports only SHA1 without a crypto module (JS SHA-1) and still computes RFC codes", async () => {
    const b = await board({ board: "original" });
    expect((await b.call("hello")).d.algs).toEqual(["SHA1"]);
    expect((await b.call("add", { name: "a", key: KEY, alg: "SHA256" })).e).toBe(ERR.ALG);
    expect((await b.call("add", { name: "a", key: KEY })).ok).toBe(true);
    expect((await b.call("code", { name: "a" })).d.codes[0].code).toBe(otp(KEY, T));
  });
});

describe.skipIf(!haveFirmware)("firmware bundle: slots", () => {
  it("adds, lists (no secrets), codes, deletes, wipes", async () => {
    const b = await board({ autoPress: true });
    const add = await b.call("add", { name: "cloud", key: KEY, alg: "SHA256", digits: 8, period: 60, serial: "ser1" });
    expect(add).toMatchObject({
      ok: true,
      d: { slot: { name: "cloud", alg: "SHA256", digits: 8, period: 60, touch: false, serial: "ser1" } },
    });
    expect((await b.call("add", { name: "two", key: KEY + "abcd" })).ok).toBe(true);
    const list = await b.call("list");
    expect(list.d.max).toBe(32);
    expect(list.d.slots.map((s: { name: string }) => s.name)).toEqual(["cloud", "two"]);
    const code = await b.call("code", { name: "cloud" });
    expect(code.d.codes[0]).toMatchObject({
      name: "cloud",
      code: otp(KEY, T, "SHA256", 8, 60),
      step: Math.floor(T / 60),
      period: 60,
      serial: "ser1",
    });
    expect(code.d.codes[0].left).toBeCloseTo(60 - (T % 60), 2);
    const all = await b.call("code");
    expect(all.d.codes.map((c: { code: string }) => c.code)).toEqual([otp(KEY, T, "SHA256", 8, 60), otp(KEY + "abcd", T)]);
    expect(await b.call("delete", { name: "cloud" })).toMatchObject({ ok: true, d: { name: "cloud" } });
    expect((await b.call("code", { name: "cloud" })).e).toBe(ERR.NOSLOT);
    expect((await b.call("delete", { name: "cloud" })).e).toBe(ERR.NOSLOT);
    expect(await b.call("wipe", { confirm: "wipe" })).toMatchObject({ ok: true, d: { slots: 1 } });
    expect((await b.call("list")).d.slots).toEqual([]);
    expect(b.emu.control.storage().filter((f) => f.name.startsWith("hwt.s"))).toEqual([]);
  });

  it("refuses duplicates (E_EXISTS) and a 33rd slot (E_FULL); 32 fit", async () => {
    const b = await board();
    for (let i = 0; i < LIMITS.SLOTS_MIN; i++) expect((await b.call("add", { name: "s" + i, key: KEY })).ok).toBe(true);
    expect((await b.call("add", { name: "s0", key: KEY })).e).toBe(ERR.EXISTS);
    expect((await b.call("add", { name: "s32", key: KEY })).e).toBe(ERR.FULL);
    expect((await b.call("code")).d.codes).toHaveLength(32);
    for (const f of b.emu.control.storage()) expect(f.name.length).toBeLessThanOrEqual(28);
  });

  it("never writes flash to compute a code (or for hello/list/time)", async () => {
    const b = await board();
    await b.call("add", { name: "w", key: KEY });
    const before = b.emu.control.flashSteps();
    for (let i = 0; i < 20; i++) {
      await b.call("code", { name: "w" });
      await b.call("code");
      b.emu.control.advance(30);
    }
    await b.call("hello");
    await b.call("list");
    await b.call("time");
    expect(b.emu.control.flashSteps()).toBe(before);
  });

  it("never sends or stores the seed itself", async () => {
    const b = await board();
    const key = "00112233445566778899aabbccddeeff00112233";
    await b.call("add", { name: "x", key });
    const wire = JSON.stringify([await b.call("list"), await b.call("code"), await b.call("hello")]);
    expect(wire).not.toContain(key);
    expect(Buffer.from(b.emu.device.flash.bytes).indexOf(Buffer.from(key, "hex"))).toBe(-1);
  });

  it("survives a reset (Storage persists, RAM does not)", async () => {
    const b = await board();
    await b.call("add", { name: "keep", key: KEY });
    b.emu.control.reset();
    expect((await b.call("list")).d.slots.map((s: { name: string }) => s.name)).toEqual(["keep"]);
    expect((await b.call("code", { name: "keep" })).d.codes[0].code).toBe(otp(KEY, T));
  });

  it("a power cut at any flash step of an add or a delete leaves the old state or the new one, every slot whole", async () => {
    for (const [op, a, want] of [
      ["add", { name: "new", key: KEY }, ["old", "new"]],
      ["delete", { name: "old" }, []],
    ] as const) {
      const seen = new Set<string>();
      for (let k = 0; ; k++) {
        const b = await board({ autoPress: true });
        await b.call("add", { name: "old", key: KEY });
        b.emu.control.powerCutAfter(k);
        b.send(frame(1, op, a));
        for (let i = 0; i < 200 && b.emu.control.mode() !== "off" && !b.take().some((l) => l.id === 1 && "ok" in l); i++)
          await new Promise((r) => setTimeout(r, 5));
        const cut = b.emu.control.mode() === "off";
        b.emu.control.reset();
        const names = (await b.call("list")).d.slots.map((s: { name: string }) => s.name).sort();
        for (const n of names) expect((await b.call("code", { name: n })).d.codes[0].code, n).toBe(otp(KEY, T));
        const state = JSON.stringify(names);
        expect([JSON.stringify(["old"]), JSON.stringify([...want].sort())]).toContain(state);
        seen.add(state);
        await open.pop()!.stop();
        if (!cut) break;
      }
      expect(seen.size, op).toBe(2);
    }
  }, 60000);

  it("a power cut at any step of a clock record's rewrite keeps the old record or the newer one, and one file", async () => {
    const seen = new Set<number>();
    for (let k = 0; ; k++) {
      const b = await board();
      await b.call("settime", { t: T });
      b.emu.control.powerCutAfter(k);
      b.send(frame(1, "settime", { t: T + 5, ppm: 12 }));
      for (let i = 0; i < 200 && b.emu.control.mode() !== "off" && !b.take().some((l) => l.id === 1 && "ok" in l); i++)
        await new Promise((r) => setTimeout(r, 5));
      const cut = b.emu.control.mode() === "off";
      b.emu.control.reset();
      const ppm = (await b.call("time")).d.ppm;
      expect([0, 12]).toContain(ppm);
      seen.add(ppm);
      expect(b.emu.control.storage().filter((f) => f.name.startsWith("hwt.c"))).toHaveLength(1);
      await open.pop()!.stop();
      if (!cut) break;
    }
    expect([...seen].sort()).toEqual([0, 12]);
  }, 60000);
});

describe.skipIf(!haveFirmware)("firmware bundle: clock", () => {
  it("refuses codes with E_CLOCK while the clock is before 2020, and serves them once set", async () => {
    const b = await board({ clock: 1000 });
    await b.call("add", { name: "a", key: KEY });
    expect((await b.call("code", { name: "a" })).e).toBe(ERR.CLOCK);
    expect((await b.call("code")).e).toBe(ERR.CLOCK);
    expect((await b.call("time")).d.set).toBe(false);
    // with a slot on it, setting an unset clock is a jump: force and a press (the slot's codes are at stake)
    const st = await b.call("settime", { t: T });
    expect(st).toMatchObject({ ok: false, e: ERR.JUMP });
    expect(st.m).toMatch(/needs force and a press/);
    expect((await b.call("time")).d.set).toBe(false);
    b.send(frame(51, "settime", { t: T, force: true }));
    await expectNotice(b, 51, "setting the lost clock", true);
    b.emu.control.pressButton(2500);
    expect((await b.settle())[0]).toMatchObject({ id: 51, ok: true, d: { jump: true } });
    expect((await b.call("code", { name: "a" })).d.codes[0].code).toBe(otp(KEY, T + 2.5));
  });

  it("a fresh token (no slots) sets an unset clock without a press", async () => {
    const b = await board({ clock: 1000 });
    expect(await b.call("settime", { t: T })).toMatchObject({ ok: true, d: { jump: false } });
    expect((await b.call("time")).d.set).toBe(true);
  });

  it("applies the stored ppm correction to the effective time", async () => {
    const b = await board();
    await b.call("settime", { t: T, ppm: 100 });
    b.emu.control.advance(1000);
    const c = (await b.call("time")).d;
    expect(c.raw - T).toBeCloseTo(1000, 3);
    expect(c.t - T).toBeCloseTo(1000 - 0.1, 3);
    expect(c.samples).toBe(1);
  });

  it("holds the code clock `bias` seconds behind the corrected clock that settime's t sets", async () => {
    const b = await board();
    await b.call("settime", { t: T + 40, bias: 5, samples: 3, err: 0.5 });
    const c = (await b.call("time")).d;
    expect(c.t).toBeCloseTo(T + 35, 3);
    expect(c).toMatchObject({ bias: 5, samples: 3, err: 0.5 });
    await b.call("add", { name: "b", key: KEY });
    expect((await b.call("code", { name: "b" })).d.codes[0].code).toBe(otp(KEY, T + 35));
    // the jump bound applies to the corrected clock, not the biased one
    expect((await b.call("settime", { t: T + 40 + JUMP - 1, bias: 5 })).ok).toBe(true);
  });

  it("works where setTime does nothing (the Linux build: offset kept in the clock record)", async () => {
    const b = await board({ board: "linux2500" });
    const raw = (await b.call("time")).d.raw;
    await b.call("settime", { t: raw + 60 });
    const c = (await b.call("time")).d;
    expect(c.raw - raw).toBeLessThan(5);
    expect(c.t - c.raw).toBeCloseTo(60, 0);
  });

  it("a jump beyond JUMP_MAX needs force and a long press; a short one never confirms it", async () => {
    const b = await board();
    await b.call("settime", { t: T });
    expect((await b.call("settime", { t: T + 1000 })).e).toBe(ERR.JUMP);
    b.send(frame(50, "settime", { t: T + 1000, force: true }));
    await expectNotice(b, 50, /^clock jump of \+100\d s$/, true);
    b.emu.control.pressButton(300);
    expect(await b.settle()).toEqual([]);
    b.emu.control.pressButton(2500);
    const r = await b.settle();
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ id: 50, ok: true, d: { jump: true } });
    expect((await b.call("time")).d.t).toBeCloseTo(T + 1000, 1);
  });
});

describe.skipIf(!haveFirmware)("firmware bundle: touch", () => {
  it("a touch slot releases its code after a press, with the LED blinking meanwhile", async () => {
    const b = await board();
    await b.call("add", { name: "t", key: KEY, touch: true });
    b.send(frame(7, "code", { name: "t" }));
    await expectNotice(b, 7, "code of slot t", false);
    let changes = 0;
    let last = JSON.stringify(b.emu.control.leds());
    for (let i = 0; i < 20; i++) {
      b.emu.control.advance(0.1);
      const now = JSON.stringify(b.emu.control.leds());
      if (now !== last) changes++;
      last = now;
    }
    expect(await b.settle()).toEqual([]);
    expect(changes).toBeGreaterThan(4);
    // a second touch request while the first waits: E_BUSY; other requests are still served
    expect((await b.call("code", { name: "t" })).e).toBe(ERR.BUSY);
    expect((await b.call("hello")).ok).toBe(true);
    b.emu.control.pressButton(100);
    const r = await b.settle();
    expect(r).toHaveLength(1);
    expect(r[0].id).toBe(7);
    expect(r[0].d.codes[0].code).toBe(otp(KEY, T + 2.1));
    expect(Object.values(b.emu.control.leds()).some((on) => on)).toBe(false);
    // "code all" lists the touch slot without its code
    expect((await b.call("code")).d.codes[0]).toMatchObject({ name: "t", code: null, touch: true });
  });

  it("times out with E_TOUCH after 15 s and frees the button", async () => {
    const b = await board();
    await b.call("add", { name: "t", key: KEY, touch: true });
    b.send(frame(8, "code", { name: "t" }));
    await expectNotice(b, 8, "code of slot t", false);
    b.emu.control.advance(14.9);
    expect(await b.settle()).toEqual([]);
    b.emu.control.advance(0.2);
    expect(await b.settle()).toMatchObject([{ id: 8, ok: false, e: ERR.TOUCH }]);
    b.emu.control.pressButton(100);
    expect(await b.settle()).toEqual([]);
    b.send(frame(9, "code", { name: "t" }));
    await expectNotice(b, 9, "code of slot t", false);
    b.emu.control.pressButton(100);
    expect((await b.settle())[0]).toMatchObject({ id: 9, ok: true });
  });

  it("a button on pin 0 (Puck.js D0, false on older builds) still confirms", async () => {
    const b = await board({ board: "puckjs" });
    await b.call("add", { name: "t", key: KEY, touch: true });
    b.send(frame(5, "code", { name: "t" }));
    await expectNotice(b, 5, "code of slot t", false);
    b.emu.control.advance(1);
    b.emu.control.pressButton(100);
    expect(await b.settle()).toMatchObject([{ id: 5, ok: true, d: { codes: [{ code: otp(KEY, T + 1.1) }] } }]);
  });

  it("a board without a button refuses touch slots' codes with E_TOUCH", async () => {
    const b = await board({ board: "linux2500" });
    await b.call("add", { name: "t", key: KEY, touch: true });
    expect((await b.call("code", { name: "t" })).e).toBe(ERR.TOUCH);
  });
});

describe.skipIf(!haveFirmware)("firmware bundle: the wire", () => {
  it("one reply per line: garbage, oversize, half lines, unknown ops, bad args; still serving after", async () => {
    const b = await board();
    b.send("garbage\n");
    b.send("x".repeat(2000) + "\n");
    b.send('{"v":1,"id":3,"op":"nope","a":{}}\n');
    b.send('{"v":1,"id":4,"op":"add","a":{"name":5}}\n');
    b.send('{"v":1,"id":5,"op":"he');
    b.send('llo","a":{}}\n');
    const r = await b.settle();
    expect(r.map((x) => [x.id, x.ok ? "ok" : x.e])).toEqual([
      [null, ERR.FRAME],
      [null, ERR.FRAME],
      [3, ERR.OP],
      [4, ERR.ARG],
      [5, "ok"],
    ]);
  });

  it("an unexpected exception inside a handler becomes one E_INTERNAL reply, and the device serves on", async () => {
    const b = await board({ autoPress: true });
    await b.call("add", { name: "a", key: KEY });
    // Storage.list fails (a flash fault, not a power cut): wipe, after its press, cannot list the slot files
    b.emu.device.evalExpr(
      '(function () { var S = require("Storage"); S.__list = S.list; S.list = function () { throw new Error("flash read fault"); }; })()',
    );
    expect(await b.call("wipe", { confirm: "wipe" })).toMatchObject({ ok: false, e: ERR.INTERNAL });
    b.emu.device.evalExpr('(function () { var S = require("Storage"); S.list = S.__list; })()');
    expect((await b.call("code", { name: "a" })).d.codes[0].code).toBe(otp(KEY, T + 2.6));
  });

  it("requests split into 1-character chunks get the same replies", async () => {
    const b = await board();
    const line = frame(11, "add", { name: "c", key: KEY }) + JSON.stringify({ v: 1, id: 12, op: "code", a: { name: "c" } }) + "\r\n";
    for (const ch of line) b.send(ch);
    const r = (await b.settle()).filter((x) => "ok" in x);
    expect(r.map((x) => x.id)).toEqual([11, 12]);
    expect(r[1].d.codes[0].code).toBe(otp(KEY, T));
  });
});
