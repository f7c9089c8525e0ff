// The built bundle (firmware/dist/firmware.js) on the test double of the Espruino runtime: every op, the
// error codes, touch, clock jumps, persistence across reboots, torn writes, and no seed ever on the wire.
import { describe, expect, it } from "vitest";
import * as OTPAuth from "otpauth";
import { ERR, LIMITS } from "../../protocol/index";
import { FakeEspruino } from "./fake-espruino";
import { runVectorSuite, type VectorCase } from "../helpers/vector-suite";

const T = 1700000000; // 2023-11-14
const JUMP = LIMITS.JUMP_MAX;
const KEY = "3132333435363738393031323334353637383930";

function otp(keyHex: string, t: number, alg = "SHA1", digits = 6, period = 30): string {
  return OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromHex(keyHex), algorithm: alg, digits, period, timestamp: t * 1000 });
}

/** Takes the output so far, which must be exactly the press notice of request `id`, naming `what`. */
function expectNotice(d: FakeEspruino, id: number, what: string | RegExp, long: boolean): void {
  const r = d.take();
  expect(r).toHaveLength(1);
  expect(r[0]).toMatchObject({ v: 1, id, press: { long, ms: 15000 } });
  expect(r[0].press.what).toMatch(what);
}

/** A booted fake board whose user confirms every press the firmware asks for (call() only). */
function device(opts: ConstructorParameters<typeof FakeEspruino>[0] = {}) {
  const d = new FakeEspruino({ time: T, ...opts }).boot();
  d.autoPress = true;
  return d;
}

describe("firmware bundle: boot and hello", () => {
  it("moves the REPL to LoopbackA and answers hello on USB", () => {
    const d = device();
    expect(d.console).toBe("LoopbackA");
    const r = d.call("hello");
    expect(r.ok).toBe(true);
    expect(r.d).toMatchObject({ fw: "0.1.0", proto: 1, board: "FAKE", algs: ["SHA1", "SHA256", "SHA512"], slots: { used: 0, max: 32 } });
    expect(r.d.clock.set).toBe(true);
    expect(r.d.heap).toEqual({ free: 2000, usage: 500, total: 2500 });
  });

  it("serves on the console device it found at boot: Bluetooth on a Puck.js (no USB), Serial1 elsewhere", () => {
    for (const link of ["Bluetooth", "Serial1"] as const) {
      const d = device({ link, noUsb: link === "Bluetooth" });
      expect(d.console).toBe("LoopbackA");
      expect(d.call("hello").ok).toBe(true);
    }
  });

  it("reports only SHA1 without a crypto module (JS SHA-1) and still computes RFC codes", () => {
    const d = device({ hashes: [] });
    expect(d.call("hello").d.algs).toEqual(["SHA1"]);
    expect(d.call("add", { name: "a", key: KEY, alg: "SHA256" }).e).toBe(ERR.ALG);
    expect(d.call("add", { name: "a", key: KEY }).ok).toBe(true);
    expect(d.call("code", { name: "a" }).d.codes[0].code).toBe(otp(KEY, T));
  });
});

describe("firmware bundle: slots", () => {
  it("adds, lists (no secrets), codes, deletes, wipes", () => {
    const d = device();
    const add = d.call("add", { name: "cloud", key: KEY, alg: "SHA256", digits: 8, period: 60, serial: "ser1" });
    expect(add).toMatchObject({ ok: true, d: { slot: { name: "cloud", alg: "SHA256", digits: 8, period: 60, touch: false, serial: "ser1" } } });
    expect(d.call("add", { name: "two", key: KEY + "abcd" }).ok).toBe(true);
    const list = d.call("list");
    expect(list.d.max).toBe(32);
    expect(list.d.slots.map((s: { name: string }) => s.name)).toEqual(["cloud", "two"]);
    const code = d.call("code", { name: "cloud" });
    expect(code.d.codes[0]).toMatchObject({ name: "cloud", code: otp(KEY, T, "SHA256", 8, 60), step: Math.floor(T / 60), period: 60, serial: "ser1" });
    expect(code.d.codes[0].left).toBeCloseTo(60 - (T % 60), 2);
    const all = d.call("code");
    expect(all.d.codes.map((c: { code: string }) => c.code)).toEqual([otp(KEY, T, "SHA256", 8, 60), otp(KEY + "abcd", T)]);
    expect(d.call("delete", { name: "cloud" })).toMatchObject({ ok: true, d: { name: "cloud" } });
    expect(d.call("code", { name: "cloud" }).e).toBe(ERR.NOSLOT);
    expect(d.call("delete", { name: "cloud" }).e).toBe(ERR.NOSLOT);
    expect(d.call("wipe", { confirm: "wipe" })).toMatchObject({ ok: true, d: { slots: 1 } });
    expect(d.call("list").d.slots).toEqual([]);
    expect([...d.storage.keys()].filter((k) => k.startsWith("hwt.s"))).toEqual([]);
  });

  it("refuses duplicates (E_EXISTS) and a 33rd slot (E_FULL); 32 fit", () => {
    const d = device();
    for (let i = 0; i < LIMITS.SLOTS_MIN; i++) expect(d.call("add", { name: "s" + i, key: KEY }).ok).toBe(true);
    expect(d.call("add", { name: "s0", key: KEY }).e).toBe(ERR.EXISTS);
    expect(d.call("add", { name: "s32", key: KEY }).e).toBe(ERR.FULL);
    expect(d.call("code").d.codes).toHaveLength(32);
    for (const k of d.storage.keys()) expect(k.length).toBeLessThanOrEqual(28);
  });

  it("never writes Storage to compute a code (or for hello/list/time)", () => {
    const d = device();
    d.call("add", { name: "w", key: KEY });
    const before = d.writes;
    for (let i = 0; i < 20; i++) {
      d.call("code", { name: "w" });
      d.call("code");
      d.advance(30000);
    }
    d.call("hello");
    d.call("list");
    d.call("time");
    expect(d.writes).toBe(before);
  });

  it("never sends or stores the seed itself", () => {
    const d = device();
    const key = "00112233445566778899aabbccddeeff00112233";
    d.call("add", { name: "x", key });
    const wire = JSON.stringify([d.call("list"), d.call("code"), d.call("hello")]);
    expect(wire).not.toContain(key);
    for (const [, f] of d.storage) expect(Buffer.from(f).toString("hex")).not.toContain(key);
  });

  it("survives a reboot (Storage persists, RAM does not)", () => {
    const storage = new Map<string, Uint8Array>();
    const d1 = device({ storage });
    d1.call("add", { name: "keep", key: KEY });
    const d2 = device({ storage });
    expect(d2.call("list").d.slots.map((s: { name: string }) => s.name)).toEqual(["keep"]);
    expect(d2.call("code", { name: "keep" }).d.codes[0].code).toBe(otp(KEY, T));
  });

  it("a power cut during an add leaves the old state; during delete's erase, the slot stays whole", () => {
    const storage = new Map<string, Uint8Array>();
    const d1 = device({ storage });
    d1.call("add", { name: "old", key: KEY });
    for (const at of [0, 3, 10, 60, 120]) {
      const d = device({ storage });
      d.tearNextWriteAt = at;
      d.send(JSON.stringify({ v: 1, id: 1, op: "add", a: { name: "new" + at, key: KEY } }) + "\n");
      expect(d.dead).toBe(true);
      const after = device({ storage });
      expect(after.call("list").d.slots.map((s: { name: string }) => s.name)).toEqual(["old"]);
      expect(after.call("code", { name: "old" }).d.codes[0].code).toBe(otp(KEY, T));
    }
    const d = device({ storage });
    d.cutBeforeNextErase = true;
    d.send(JSON.stringify({ v: 1, id: 1, op: "delete", a: { name: "old" } }) + "\n");
    expectNotice(d, 1, "delete slot old", false);
    d.press();
    expect(d.dead).toBe(true);
    const after = device({ storage });
    expect(after.call("code", { name: "old" }).d.codes[0].code).toBe(otp(KEY, T));
  });

  it("a power cut between writing a record's new file and erasing the old one keeps the newer record", () => {
    const storage = new Map<string, Uint8Array>();
    const d1 = device({ storage });
    d1.call("settime", { t: T });
    d1.cutBeforeNextErase = true;
    d1.send(JSON.stringify({ v: 1, id: 1, op: "settime", a: { t: T + 5, ppm: 12 } }) + "\n");
    expect(d1.dead).toBe(true);
    expect([...storage.keys()].filter((k) => k.startsWith("hwt.c")).sort()).toEqual(["hwt.ca", "hwt.cb"]);
    const d2 = device({ storage });
    expect(d2.call("time").d.ppm).toBe(12);
    expect([...storage.keys()].filter((k) => k.startsWith("hwt.c"))).toHaveLength(1);
  });
});

describe("firmware bundle: clock", () => {
  it("refuses codes with E_CLOCK while the clock is before 2020, and serves them once set", () => {
    const d = device({ time: 1000 });
    d.call("add", { name: "a", key: KEY });
    expect(d.call("code", { name: "a" }).e).toBe(ERR.CLOCK);
    expect(d.call("code").e).toBe(ERR.CLOCK);
    expect(d.call("time").d.set).toBe(false);
    // with a slot on it, setting an unset clock is a jump: force and a press (the slot's codes are at stake)
    const st = d.call("settime", { t: T });
    expect(st).toMatchObject({ ok: false, e: ERR.JUMP });
    expect(st.m).toMatch(/needs force and a press/);
    expect(d.call("time").d.set).toBe(false);
    d.send(JSON.stringify({ v: 1, id: 51, op: "settime", a: { t: T, force: true } }) + "\n");
    expectNotice(d, 51, "setting the lost clock", true);
    expect(d.press(2500)).toBe(true);
    expect(d.take()[0]).toMatchObject({ id: 51, ok: true, d: { jump: true } });
    expect(d.call("code", { name: "a" }).d.codes[0].code).toBe(otp(KEY, T));
  });

  it("a fresh token (no slots) sets an unset clock without a press", () => {
    const d = device({ time: 1000 });
    expect(d.call("settime", { t: T })).toMatchObject({ ok: true, d: { jump: false } });
    expect(d.call("time").d.set).toBe(true);
  });

  it("applies the stored ppm correction to the effective time", () => {
    const d = device();
    d.call("settime", { t: T, ppm: 100 });
    d.advance(1000 * 1000);
    const c = d.call("time").d;
    expect(c.raw - T).toBeCloseTo(1000, 3);
    expect(c.t - T).toBeCloseTo(1000 - 0.1, 3);
    expect(c.samples).toBe(1);
  });

  it("holds the code clock `bias` seconds behind the corrected clock that settime's t sets", () => {
    const d = device();
    d.call("settime", { t: T + 40, bias: 5, samples: 3, err: 0.5 });
    const c = d.call("time").d;
    expect(c.t).toBeCloseTo(T + 35, 3);
    expect(c).toMatchObject({ bias: 5, samples: 3, err: 0.5 });
    d.call("add", { name: "b", key: KEY });
    expect(d.call("code", { name: "b" }).d.codes[0].code).toBe(otp(KEY, T + 35));
    // the jump bound applies to the corrected clock, not the biased one
    expect(d.call("settime", { t: T + 40 + JUMP - 1, bias: 5 }).ok).toBe(true);
  });

  it("works where setTime does nothing (offset kept in the clock record)", () => {
    const d = device();
    // simulate the Linux build: setTime ignored
    (d as unknown as { rtc: number }).rtc = T;
    const ctx = d as unknown as { ctx: { setTime: (t: number) => void } };
    ctx.ctx.setTime = () => {};
    d.call("settime", { t: T + 60 });
    expect(d.call("time").d.t).toBeCloseTo(T + 60, 1);
  });

  it("a jump beyond JUMP_MAX needs force and a button press", () => {
    const d = device();
    d.call("settime", { t: T });
    expect(d.call("settime", { t: T + 1000 }).e).toBe(ERR.JUMP);
    d.send(JSON.stringify({ v: 1, id: 50, op: "settime", a: { t: T + 1000, force: true } }) + "\n");
    expectNotice(d, 50, /^clock jump of \+100\d s$/, true);
    // a short press never confirms a jump; the long one does
    expect(d.press(300)).toBe(true);
    expect(d.take()).toEqual([]);
    expect(d.press(2500)).toBe(true);
    const r = d.take();
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ id: 50, ok: true, d: { jump: true } });
    expect(d.call("time").d.t).toBeCloseTo(T + 1000, 1);
  });
});

describe("firmware bundle: touch", () => {
  it("a touch slot releases its code after a press, with the LED blinking meanwhile", () => {
    const d = device();
    d.call("add", { name: "t", key: KEY, touch: true });
    d.send(JSON.stringify({ v: 1, id: 7, op: "code", a: { name: "t" } }) + "\n");
    expectNotice(d, 7, "code of slot t", false);
    d.advance(2000);
    expect(d.take()).toEqual([]);
    expect(d.ledWrites).toBeGreaterThan(4);
    // a second touch request while the first waits: E_BUSY
    expect(d.call("code", { name: "t" }).e).toBe(ERR.BUSY);
    // other requests are still served
    expect(d.call("hello").ok).toBe(true);
    d.press();
    const r = d.take();
    expect(r).toHaveLength(1);
    expect(r[0].id).toBe(7);
    expect(r[0].d.codes[0].code).toBe(otp(KEY, T + 2));
    expect(d.led).toBe(false);
    // "code all" lists the touch slot without its code
    expect(d.call("code").d.codes[0]).toMatchObject({ name: "t", code: null, touch: true });
  });

  it("times out with E_TOUCH after 15 s and frees the button", () => {
    const d = device();
    d.call("add", { name: "t", key: KEY, touch: true });
    d.send(JSON.stringify({ v: 1, id: 8, op: "code", a: { name: "t" } }) + "\n");
    expectNotice(d, 8, "code of slot t", false);
    d.advance(14900);
    expect(d.take()).toEqual([]);
    d.advance(200);
    expect(d.take()).toMatchObject([{ id: 8, ok: false, e: ERR.TOUCH }]);
    expect(d.watches.size).toBe(0);
    expect(d.press()).toBe(false);
    d.send(JSON.stringify({ v: 1, id: 9, op: "code", a: { name: "t" } }) + "\n");
    expectNotice(d, 9, "code of slot t", false);
    d.press();
    expect(d.take()[0]).toMatchObject({ id: 9, ok: true });
  });

  it("a button on pin 0 (Puck.js D0, false on older builds) still confirms", () => {
    const d = device({ buttonPinZero: true });
    d.call("add", { name: "t", key: KEY, touch: true });
    d.send(JSON.stringify({ v: 1, id: 5, op: "code", a: { name: "t" } }) + "\n");
    expectNotice(d, 5, "code of slot t", false);
    d.advance(1000);
    expect(d.press()).toBe(true);
    expect(d.take()).toMatchObject([{ id: 5, ok: true, d: { codes: [{ code: otp(KEY, T + 1) }] } }]);
  });

  it("a board without a button refuses touch slots' codes with E_TOUCH", () => {
    const d = device({ button: false });
    d.call("add", { name: "t", key: KEY, touch: true });
    expect(d.call("code", { name: "t" }).e).toBe(ERR.TOUCH);
  });
});

describe("firmware bundle: the wire", () => {
  it("one reply per line: garbage, oversize, half lines, unknown ops, bad args; still serving after", () => {
    const d = device();
    d.send("garbage\n");
    d.send("x".repeat(2000) + "\n");
    d.send('{"v":1,"id":3,"op":"nope","a":{}}\n');
    d.send('{"v":1,"id":4,"op":"add","a":{"name":5}}\n');
    d.send('{"v":1,"id":5,"op":"he');
    d.send('llo","a":{}}\n');
    const r = d.take();
    expect(r.map((x) => [x.id, x.ok ? "ok" : x.e])).toEqual([
      [null, ERR.FRAME],
      [null, ERR.FRAME],
      [3, ERR.OP],
      [4, ERR.ARG],
      [5, "ok"],
    ]);
  });

  it("an unexpected exception inside a handler becomes one E_INTERNAL reply, and the device serves on", () => {
    const d = device();
    d.call("add", { name: "a", key: KEY });
    // Storage reads fail: wipe (after its press) cannot even list the slots
    d.failReads = true;
    const r = d.call("wipe", { confirm: "wipe" });
    expect(r).toMatchObject({ ok: false, e: ERR.INTERNAL });
    d.failReads = false;
    expect(d.call("code", { name: "a" }).d.codes[0].code).toBe(otp(KEY, T));
  });

  it("requests split into 1-character chunks get the same replies", () => {
    const d = device();
    const line = JSON.stringify({ v: 1, id: 11, op: "add", a: { name: "c", key: KEY } }) + "\n" + JSON.stringify({ v: 1, id: 12, op: "code", a: { name: "c" } }) + "\r\n";
    for (const ch of line) d.send(ch);
    const r = d.take();
    expect(r.map((x) => x.id)).toEqual([11, 12]);
    expect(r[1].d.codes[0].code).toBe(otp(KEY, T));
  });
});

// The vector suite against the bundle: each case provisions a slot, moves the RTC to t, and asks for the code.
const vd = device();
let slotNo = 0;
runVectorSuite({
  name: "firmware bundle on the test double (device time range)",
  algs: ["SHA1", "SHA256", "SHA512"],
  random: 1000,
  generate: async (cases: VectorCase[]) =>
    cases.map((c) => {
      const name = "v" + slotNo++;
      const add = vd.call("add", { name, key: c.keyHex, alg: c.alg, digits: c.digits, period: c.period });
      if (!add.ok) throw new Error(JSON.stringify(add));
      vd.rtc = c.t - vd.ms / 1000;
      const r = vd.call("code", { name });
      vd.call("delete", { name });
      return r.ok ? r.d.codes[0].code : "ERR " + r.e;
    }),
});
