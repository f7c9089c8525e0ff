// The token defends itself (issue 11), firmware in the emulator: PIN and lockout, seeds sealed at rest, no pad
// left in the flash image after delete, wipe, a failed last try or a held button at boot, one press for one
// named request (a short press never confirms a jump), and power cuts at every flash step of each change.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as OTPAuth from "otpauth";
import { afterEach, describe, expect, it } from "vitest";
import { ERR, LIMITS, type Reply } from "../../../protocol/index.ts";
import { createEmulator, type Emulator, type EmulatorOptions } from "../../../firmware/emulator/index.ts";
import { defaultFirmwarePath } from "../../../host/src/paths.ts";
import { connect, ok, type EmuClient } from "../../harness/emu-session.ts";

const T = 1700000000;
const KEY = "3132333435363738393031323334353637383930";
const KEY2 = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcdef01";
const PIN = "2468";
const PIN2 = "correct horse";
const haveFirmware = fs.existsSync(defaultFirmwarePath());

const started: Emulator[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const e of started.splice(0)) await e.stop();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function otp(keyHex: string, t: number): string {
  return OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromHex(keyHex), timestamp: t * 1000 });
}

async function boot(o: EmulatorOptions = {}): Promise<{ emu: Emulator; c: EmuClient }> {
  const emu = createEmulator({ board: "pico", clock: T, frozenClock: true, autoPress: true, ...o });
  started.push(emu);
  await emu.start();
  return { emu, c: connect(emu, 20000) };
}

/**
 * The 16-byte windows a reader of the flash image would look for: the key, and its inner and outer pads
 * (key XOR 0x36 / 0x5c) at two offsets inside the key (past the key, a pad is the same for every key).
 */
function secretsOf(keyHex: string): Buffer[] {
  const k = Buffer.from(keyHex, "hex");
  const pad = (x: number) => Buffer.from([...k].map((b) => b ^ x));
  return [
    k.subarray(0, 16),
    pad(0x36).subarray(0, 16),
    pad(0x5c).subarray(0, 16),
    pad(0x36).subarray(k.length - 16),
    pad(0x5c).subarray(k.length - 16),
  ];
}

/** Which of a key's secret windows are anywhere in the emulator's flash image (empty: none). */
function inFlash(emu: Emulator, keyHex: string): number[] {
  const img = Buffer.from(emu.device.flash.bytes);
  return secretsOf(keyHex)
    .map((w, i) => (img.indexOf(w) >= 0 ? i : -1))
    .filter((i) => i >= 0);
}

async function code(c: EmuClient, name: string): Promise<{ t: number; code: string }> {
  const d = await ok(c, "code", { name });
  return { t: d.t, code: d.codes[0].code };
}

function expectErr(r: Reply, e: string): Extract<Reply, { ok: false }> {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  const x = r as Extract<Reply, { ok: false }>;
  expect(x.e).toBe(e);
  return x;
}

describe.skipIf(!haveFirmware)("PIN and lockout (emulator)", () => {
  for (const board of ["pico", "puckjs", "linux"]) {
    it(`${board}: with a PIN set, codes and changes are refused until unlocked; lock and reset lock again`, async () => {
      const { emu, c } = await boot({ board });
      await ok(c, "add", { name: "a", key: KEY });
      const hello0 = await ok(c, "hello");
      expect(hello0.pin).toEqual({ set: false, locked: false, tries: LIMITS.PIN_TRIES, idle: 0 });
      expect(hello0.guard).toEqual({ button: board !== "linux", pin: false });
      expect(await ok(c, "pin", { next: PIN })).toEqual({ set: true, locked: false, tries: 8, idle: 0 });
      let r = await code(c, "a");
      expect(r.code).toBe(otp(KEY, r.t));
      expect(await ok(c, "lock")).toMatchObject({ set: true, locked: true });
      for (const [op, a] of [
        ["code", { name: "a" }],
        ["code", {}],
        ["list", {}],
        ["add", { name: "b", key: KEY }],
        ["delete", { name: "a" }],
        ["wipe", { confirm: "wipe" }],
      ] as const) {
        expect(expectErr(await c.request(op, a), ERR.LOCKED).m, op).toMatch(/unlock/i);
      }
      expect((await ok(c, "hello")).pin).toEqual({ set: true, locked: true, tries: 8, idle: 0 });
      expect((await ok(c, "hello")).guard).toEqual({ button: board !== "linux", pin: true });
      expect((await ok(c, "time")).set).toBe(true);
      const wrong = expectErr(await c.request("unlock", { pin: "1357" }), ERR.PIN);
      expect(wrong.d).toEqual({ tries: 7, wiped: false });
      expect(wrong.m).toMatch(/7 tries left/);
      expect(wrong.m).not.toContain("1357");
      expect((await ok(c, "hello")).pin.tries).toBe(7);
      expect(await ok(c, "unlock", { pin: PIN })).toEqual({ set: true, locked: false, tries: 8, idle: 0 });
      r = await code(c, "a");
      expect(r.code).toBe(otp(KEY, r.t));
      emu.control.reset();
      const c2 = connect(emu, 20000);
      expect((await ok(c2, "hello")).pin).toMatchObject({ set: true, locked: true, tries: 8 });
      expectErr(await c2.request("code", { name: "a" }), ERR.LOCKED);
      await ok(c2, "unlock", { pin: PIN });
      r = await code(c2, "a");
      expect(r.code).toBe(otp(KEY, r.t));
    });
  }

  it("an idle time locks the session; change and clear need the current PIN, each wrong one costs a try", async () => {
    const { emu, c } = await boot();
    await ok(c, "add", { name: "a", key: KEY });
    expect(await ok(c, "pin", { next: PIN, idle: 60 })).toMatchObject({ set: true, locked: false, idle: 60 });
    emu.control.advance(30);
    await code(c, "a"); // use restarts the idle time
    emu.control.advance(45);
    expect((await ok(c, "hello")).pin.locked).toBe(false);
    emu.control.advance(20);
    expect((await ok(c, "hello")).pin.locked).toBe(true);
    expectErr(await c.request("code", { name: "a" }), ERR.LOCKED);
    // setting a PIN when one is set, or changing it without the current one: E_ARG, no try spent
    expectErr(await c.request("pin", { next: PIN2 }), ERR.ARG);
    expect(expectErr(await c.request("pin", { pin: "9999", next: PIN2 }), ERR.PIN).d).toEqual({ tries: 7, wiped: false });
    expect(await ok(c, "pin", { pin: PIN, next: PIN2 })).toMatchObject({ set: true, locked: false, tries: 8, idle: 60 });
    await ok(c, "lock");
    expectErr(await c.request("unlock", { pin: PIN }), ERR.PIN);
    await ok(c, "unlock", { pin: PIN2 });
    expect(await ok(c, "pin", { pin: PIN2 })).toEqual({ set: false, locked: false, tries: 8, idle: 0 });
    const r = await code(c, "a");
    expect(r.code).toBe(otp(KEY, r.t));
  });

  it(`${LIMITS.PIN_TRIES} wrong PINs wipe every slot and the PIN, and leave no pad in the flash image`, async () => {
    const { emu, c } = await boot();
    await ok(c, "add", { name: "a", key: KEY });
    await ok(c, "add", { name: "b", key: KEY2 });
    await ok(c, "pin", { next: PIN });
    await ok(c, "lock");
    for (let k = 1; k < LIMITS.PIN_TRIES; k++) {
      expect(expectErr(await c.request("unlock", { pin: "0000" }), ERR.PIN).d).toEqual({ tries: LIMITS.PIN_TRIES - k, wiped: false });
    }
    const last = expectErr(await c.request("unlock", { pin: "0000" }), ERR.PIN);
    expect(last.d).toEqual({ tries: 0, wiped: true });
    expect(last.m).toMatch(/wiped/);
    const h = await ok(c, "hello");
    expect(h.slots.used).toBe(0);
    expect(h.pin).toEqual({ set: false, locked: false, tries: 8, idle: 0 });
    expect(
      emu.control
        .storage()
        .map((f) => f.name)
        .filter((n) => /^hwt\.[sp]/.test(n)),
    ).toEqual([]);
    expect(inFlash(emu, KEY)).toEqual([]);
    expect(inFlash(emu, KEY2)).toEqual([]);
    // the token works again as a fresh one
    await ok(c, "add", { name: "a", key: KEY });
    const r = await code(c, "a");
    expect(r.code).toBe(otp(KEY, r.t));
  });
});

describe.skipIf(!haveFirmware)("no seed left in flash (emulator)", () => {
  for (const board of ["pico", "puckjs", "original"]) {
    it(`${board}: with a PIN no pad is in the flash image; without one the pads are the seeds`, async () => {
      const { emu, c } = await boot({ board });
      await ok(c, "add", { name: "a", key: KEY });
      await ok(c, "add", { name: "b", key: KEY2 });
      // the detector works: a plain token holds its pads
      expect(inFlash(emu, KEY)).toEqual([0, 1, 2, 3, 4].slice(1));
      await ok(c, "pin", { next: PIN });
      expect(inFlash(emu, KEY)).toEqual([]);
      expect(inFlash(emu, KEY2)).toEqual([]);
      const K3 = createHash("sha1").update("c").digest("hex");
      await ok(c, "add", { name: "c", key: K3 });
      expect(inFlash(emu, K3)).toEqual([]);
      const r = await code(c, "c");
      expect(r.code).toBe(otp(K3, r.t));
      // a restart: still sealed, and the codes come back after unlock
      emu.control.reset();
      const c2 = connect(emu, 20000);
      expect(inFlash(emu, KEY)).toEqual([]);
      await ok(c2, "unlock", { pin: PIN });
      for (const [n, k] of [
        ["a", KEY],
        ["b", KEY2],
      ]) {
        const x = await code(c2, n);
        expect(x.code).toBe(otp(k, x.t));
      }
      // clearing the PIN unseals: docs/security.md says the pads are then the seeds
      await ok(c2, "pin", { pin: PIN });
      expect(inFlash(emu, KEY)).toEqual([0, 1, 2, 3, 4].slice(1));
    });
  }

  it("delete and wipe leave no pad of the erased slots anywhere in the flash image", async () => {
    const { emu, c } = await boot();
    const keys = Array.from({ length: 6 }, (_, i) =>
      createHash("sha1")
        .update("slot " + i)
        .digest("hex"),
    );
    for (let i = 0; i < keys.length; i++) await ok(c, "add", { name: "s" + i, key: keys[i] });
    expect(inFlash(emu, keys[0]).length).toBeGreaterThan(0);
    await ok(c, "delete", { name: "s0" });
    expect(inFlash(emu, keys[0])).toEqual([]);
    expect(inFlash(emu, keys[1]).length).toBeGreaterThan(0);
    const d = await ok(c, "wipe", { confirm: "wipe" });
    expect(d.slots).toBe(5);
    for (const k of keys) expect(inFlash(emu, k), k).toEqual([]);
  });

  it("holding the button at boot wipes every slot, the PIN and the clock before the REPL is usable", async () => {
    const { emu, c } = await boot();
    await ok(c, "add", { name: "a", key: KEY });
    await ok(c, "add", { name: "b", key: KEY2 });
    await ok(c, "settime", { t: T + 1 });
    expect(emu.control.readFile(".boot0")).toBe(fs.readFileSync(path.join(path.dirname(defaultFirmwarePath()), "boot0.js"), "latin1"));
    emu.control.holdButton(true);
    emu.control.reset();
    emu.control.holdButton(false);
    expect(emu.control.mode()).toBe("repl");
    expect(
      emu.control
        .storage()
        .map((f) => f.name)
        .filter((n) => n.startsWith("hwt.")),
    ).toEqual([]);
    expect(inFlash(emu, KEY)).toEqual([]);
    expect(inFlash(emu, KEY2)).toEqual([]);
    // the firmware is still there: a normal reset boots it, a fresh token
    emu.control.reset();
    expect(emu.control.mode()).toBe("firmware");
    const c2 = connect(emu, 20000);
    expect((await ok(c2, "hello")).slots.used).toBe(0);
  });
});

describe.skipIf(!haveFirmware)("one press, one named request (emulator)", () => {
  it("a hostile forced jump queued before the user's touch code is never confirmed by the user's short press", async () => {
    const { emu, c } = await boot({ autoPress: false });
    await ok(c, "add", { name: "t", key: KEY, touch: true });
    const before = (await ok(c, "time")).t;
    const hostile = c.request("settime", { t: before + 365 * 86400, force: true });
    await new Promise((r) => setTimeout(r, 20));
    const notice = c.noise.map((l) => JSON.parse(l)).find((x) => x.press);
    expect(notice.press).toEqual({ what: expect.stringMatching(/^clock jump of \+3153600\d s$/), long: true, ms: 15000 });
    // the user's request needs a press too: refused at once, never queued behind the jump
    expectErr(await c.request("code", { name: "t" }), ERR.BUSY);
    // the user presses (short) anyway: the jump is not confirmed
    emu.control.pressButton(150);
    emu.control.pressButton(600);
    emu.control.advance(16);
    expectErr(await hostile, ERR.TOUCH);
    expect((await ok(c, "time")).t).toBeLessThan(before + 100);
    // the user's own request, asked again, is named and released by a press
    const mine = c.request("code", { name: "t" });
    await new Promise((r) => setTimeout(r, 20));
    expect(
      c.noise
        .map((l) => JSON.parse(l))
        .filter((x) => x.press)
        .pop().press,
    ).toEqual({ what: "code of slot t", long: false, ms: 15000 });
    emu.control.pressButton(100);
    const r = await mine;
    expect(r.ok).toBe(true);
  });

  it("delete, wipe and PIN changes wait for a press naming them; wipe only for a long one", async () => {
    const { emu, c } = await boot({ autoPress: false });
    await ok(c, "add", { name: "cloud", key: KEY });
    const del = c.request("delete", { name: "cloud" });
    await new Promise((r) => setTimeout(r, 20));
    expect(c.noise.map((l) => JSON.parse(l)).pop().press).toEqual({ what: "delete slot cloud", long: false, ms: 15000 });
    emu.control.pressButton(100);
    expect((await del).ok).toBe(true);
    await ok(c, "add", { name: "cloud", key: KEY });
    const wipe = c.request("wipe", { confirm: "wipe" });
    await new Promise((r) => setTimeout(r, 20));
    expect(c.noise.map((l) => JSON.parse(l)).pop().press).toEqual({ what: "wipe every slot", long: true, ms: 15000 });
    emu.control.pressButton(1500);
    await new Promise((r) => setTimeout(r, 20));
    expect((await ok(c, "hello")).slots.used).toBe(1);
    emu.control.pressButton(LIMITS.LONG_PRESS_MS + 100);
    expect((await wipe).ok).toBe(true);
    const pin = c.request("pin", { next: PIN });
    await new Promise((r) => setTimeout(r, 20));
    expect(c.noise.map((l) => JSON.parse(l)).pop().press).toEqual({ what: "set a PIN", long: false, ms: 15000 });
    emu.control.advance(16);
    expectErr(await pin, ERR.TOUCH);
    expect((await ok(c, "hello")).pin.set).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------- power cuts

/** A copy of the emulator's flash image as a state file another emulator can boot from. */
function snapshot(emu: Emulator): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-sec-"));
  dirs.push(dir);
  const f = path.join(dir, "state.json");
  const b = emu.device.flash.bytes;
  let n = b.length;
  while (n > 0 && b[n - 1] === 0xff) n--;
  fs.writeFileSync(f, JSON.stringify({ v: 1, board: emu.board.name, flash: Buffer.from(b.subarray(0, n)).toString("base64") }), {
    mode: 0o600,
  });
  return f;
}

function copyState(f: string): string {
  const to = f.replace(/state\.json$/, "run-" + Math.random().toString(36).slice(2) + ".json");
  fs.copyFileSync(f, to);
  return to;
}

/** Sends one request; resolves with its reply, or "cut" once the power went (the device is off). */
function attempt(emu: Emulator, c: EmuClient, op: string, a: Record<string, unknown>): Promise<Reply | "cut"> {
  return new Promise((resolve) => {
    let done = false;
    const poll = setInterval(() => {
      if (!done && emu.control.mode() === "off") {
        done = true;
        clearInterval(poll);
        resolve("cut");
      }
    }, 2);
    c.request(op, a).then(
      (r) => {
        if (done) return;
        done = true;
        clearInterval(poll);
        resolve(r);
      },
      () => {},
    );
  });
}

/**
 * Runs `op` from the state in `base` with a power cut after 0, 1, 2, … flash steps until it completes
 * uncut; after each cut (and a reset) `check` sees the rebooted token. Returns how many cuts were tried.
 */
async function cutEverywhere(
  base: string,
  op: string,
  a: Record<string, unknown>,
  check: (c: EmuClient, emu: Emulator, k: number) => Promise<void>,
): Promise<number> {
  for (let k = 0; ; k++) {
    const emu = createEmulator({ board: "pico", clock: T, frozenClock: true, autoPress: true, stateFile: copyState(base) });
    await emu.start();
    try {
      const c = connect(emu, 20000);
      emu.control.powerCutAfter(k);
      const r = await attempt(emu, c, op, a);
      emu.control.reset();
      await check(connect(emu, 20000), emu, k);
      if (r !== "cut") return k;
    } finally {
      await emu.stop();
    }
  }
}

async function slotsOk(c: EmuClient, want: [string, string][], maybe: [string, string][] = []): Promise<string[]> {
  const names = ((await ok(c, "list")).slots as { name: string }[]).map((s) => s.name);
  for (const [n] of want) expect(names).toContain(n);
  for (const [n, k] of [...want, ...maybe]) {
    if (!names.includes(n)) continue;
    const r = await code(c, n);
    expect(r.code, n).toBe(otp(k, r.t));
  }
  return names;
}

describe.skipIf(!haveFirmware)("power cuts at every flash step (emulator)", () => {
  async function base(pin: boolean): Promise<string> {
    const { emu, c } = await boot();
    await ok(c, "add", { name: "a", key: KEY });
    await ok(c, "add", { name: "b", key: KEY2 });
    if (pin) await ok(c, "pin", { next: PIN });
    return snapshot(emu);
  }
  const AB: [string, string][] = [
    ["a", KEY],
    ["b", KEY2],
  ];

  it("a wrong PIN: a cut never raises the tries left, and one after the decrement costs the try", async () => {
    const b = await base(true);
    const seen = new Set<number>();
    const n = await cutEverywhere(b, "unlock", { pin: "0000" }, async (c) => {
      const t = (await ok(c, "hello")).pin.tries;
      expect(t).toBeLessThanOrEqual(LIMITS.PIN_TRIES);
      expect(t).toBeGreaterThanOrEqual(LIMITS.PIN_TRIES - 1);
      seen.add(t);
      await ok(c, "unlock", { pin: PIN });
      await slotsOk(c, AB);
    });
    expect(n).toBeGreaterThan(0);
    expect([...seen].sort()).toEqual([7, 8]);
  });

  it("a right PIN: a cut costs at most the one try, never more, and loses no slot", async () => {
    const b = await base(true);
    await cutEverywhere(b, "unlock", { pin: PIN }, async (c) => {
      expect((await ok(c, "hello")).pin.tries).toBeGreaterThanOrEqual(LIMITS.PIN_TRIES - 1);
      await ok(c, "unlock", { pin: PIN });
      await slotsOk(c, AB);
    });
  });

  it("PIN set: the token reads back without a PIN or with the new one, every slot intact", async () => {
    const b = await base(false);
    const states = new Set<string>();
    await cutEverywhere(b, "pin", { next: PIN }, async (c, emu) => {
      const p = (await ok(c, "hello")).pin;
      states.add(p.set ? "new" : "old");
      if (p.set) {
        // A cut while slots were sealed leaves some plain; the unlock seals and scrubs them
        await ok(c, "unlock", { pin: PIN });
        for (const [, k] of AB) expect(inFlash(emu, k)).toEqual([]);
      }
      await slotsOk(c, AB);
    });
    expect([...states].sort()).toEqual(["new", "old"]);
  });

  it("PIN change: exactly one of the old and the new PIN unlocks, every slot intact", async () => {
    const b = await base(true);
    const states = new Set<string>();
    await cutEverywhere(b, "pin", { pin: PIN, next: PIN2 }, async (c) => {
      const r = await c.request("unlock", { pin: PIN2 });
      if (r.ok) states.add("new");
      else {
        await ok(c, "unlock", { pin: PIN });
        states.add("old");
      }
      await slotsOk(c, AB);
    });
    expect([...states].sort()).toEqual(["new", "old"]);
  });

  it("PIN clear: the PIN is still set (and unlocks) or gone, every slot intact", async () => {
    const b = await base(true);
    const states = new Set<string>();
    await cutEverywhere(b, "pin", { pin: PIN }, async (c) => {
      const p = (await ok(c, "hello")).pin;
      states.add(p.set ? "old" : "new");
      if (p.set) await ok(c, "unlock", { pin: PIN });
      await slotsOk(c, AB);
    });
    expect([...states].sort()).toEqual(["new", "old"]);
  });

  it("add, delete and wipe under a PIN: each slot reads back whole or absent", async () => {
    const b = await base(true);
    const unlock = async (c: EmuClient) => {
      await ok(c, "unlock", { pin: PIN });
    };
    const K3 = createHash("sha1").update("c").digest("hex");
    await cutEverywhere(b, "add", { name: "c", key: K3 }, async (c) => {
      await unlock(c);
      await slotsOk(c, AB, [["c", K3]]);
    });
    await cutEverywhere(b, "delete", { name: "a" }, async (c) => {
      await unlock(c);
      await slotsOk(c, [["b", KEY2]], [["a", KEY]]);
    });
    await cutEverywhere(b, "wipe", { confirm: "wipe" }, async (c) => {
      await unlock(c);
      await slotsOk(c, [], AB);
    });
  }, 120000);
});
