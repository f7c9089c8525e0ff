// Boot order (src/jsinteractive.c jsiSemiInit/jsiSoftInit, src/jsflash.c jsfLoadBootCodeFromFlash, targets'
// main.c jsiInit(!buttonState)): each boot file appends its name to BOOT; the emulator must run them as the device:
//  - power-up: .bootPowerOn (first boot only), .boot0–.boot3, then .bootrst if present, else .bootcde; then
//    E.on("init") handlers and onInit();
//  - power-up with the button held (non-Bangle boards): the same, except .bootcde (and .varimg) — so .boot0 runs,
//    reads the button as pressed, and the REPL is given back;
//  - Bangle.js: a held BTN1 at first boot skips .bootPowerOn and .boot0–.boot3 too;
//  - reset(): .boot0–.boot3 and .bootrst, no .bootcde; load(): like a power-up without .bootPowerOn.
// The parts the Linux build can show (it has no button) are checked on the real interpreter too.
import { afterAll, describe, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../../../firmware/emulator/index.ts";
import { fromLatin1 } from "../../../firmware/emulator/storage.ts";
import { Interpreter, espruinoBuilds, missingReason, stopAll } from "../../harness/real-interpreter.ts";

const started: Emulator[] = [];
afterAll(async () => {
  for (const e of started) await e.stop();
  await stopAll();
});

const log = (name: string) => "if (typeof BOOT === 'undefined') BOOT = []; BOOT.push(" + JSON.stringify(name) + ");";
const BTN_SEEN = "BTNSEEN = [typeof BTN === 'undefined' ? 'none' : digitalRead(BTN), typeof BTN === 'undefined' ? 'none' : BTN.read()];";

function files(withRst: boolean): Record<string, string> {
  const f: Record<string, string> = {
    ".bootPowerOn": log(".bootPowerOn"),
    ".boot0": log(".boot0") + BTN_SEEN,
    ".boot1": log(".boot1"),
    ".boot2": log(".boot2"),
    ".boot3": log(".boot3") + "E.on('init', function () { BOOT.push('init'); }); onInit = function () { BOOT.push('onInit'); };",
    ".bootcde": log(".bootcde"),
  };
  if (withRst) f[".bootrst"] = log(".bootrst");
  return f;
}

async function board(name: string, withRst = false): Promise<Emulator> {
  const e = createEmulator({ board: name, flashed: false, clock: 1700000000, frozenClock: true });
  started.push(e);
  await e.start();
  for (const [k, v] of Object.entries(files(withRst))) e.device.storage.write(k, fromLatin1(v));
  return e;
}

const booted = (e: Emulator) => e.device.evalExpr("typeof BOOT === 'undefined' ? [] : BOOT") as string[];
const ALL = [".bootPowerOn", ".boot0", ".boot1", ".boot2", ".boot3", ".bootcde", "init", "onInit"];
const HELD = [".bootPowerOn", ".boot0", ".boot1", ".boot2", ".boot3", "init", "onInit"];
const RESET = [".boot0", ".boot1", ".boot2", ".boot3", "init", "onInit"];

describe("boot order (emulator)", () => {
  for (const b of ["pico", "puckjs", "original"]) {
    it(`${b}: power-up runs .bootPowerOn, .boot0-3, .bootcde, init; with the button held all but .bootcde, and .boot0 reads it pressed`, async () => {
      const e = await board(b);
      e.control.powerCycle();
      expect(booted(e)).toEqual(ALL);
      expect(e.device.evalExpr("BTNSEEN")).toEqual([0, false]);
      e.control.holdButton(true);
      e.control.reset(); // the reset button: a first boot that reads the button
      expect(booted(e)).toEqual(HELD);
      expect(e.device.evalExpr("BTNSEEN")).toEqual([1, true]);
      expect(e.control.mode()).toBe("repl");
      e.control.holdButton(false);
      e.device.evalExpr("reset()");
      e.device.afterTask();
      expect(booted(e)).toEqual(RESET);
      e.device.evalExpr("load()");
      e.device.afterTask();
      expect(booted(e)).toEqual([".boot0", ".boot1", ".boot2", ".boot3", ".bootcde", "init", "onInit"]);
    });
  }

  it("pico: .bootrst runs instead of .bootcde, held or not, and after reset()", async () => {
    const e = await board("pico", true);
    e.control.powerCycle();
    expect(booted(e)).toEqual([".bootPowerOn", ".boot0", ".boot1", ".boot2", ".boot3", ".bootrst", "init", "onInit"]);
    e.control.holdButton(true);
    e.control.reset();
    expect(booted(e)).toEqual([".bootPowerOn", ".boot0", ".boot1", ".boot2", ".boot3", ".bootrst", "init", "onInit"]);
    e.control.holdButton(false);
    e.device.evalExpr("reset()");
    e.device.afterTask();
    expect(booted(e)).toEqual([".boot0", ".boot1", ".boot2", ".boot3", ".bootrst", "init", "onInit"]);
  });

  it("bangle2: BTN1 held at first boot skips .bootPowerOn and .boot0-3 as well as .bootcde", async () => {
    const e = await board("bangle2");
    e.control.powerCycle();
    expect(booted(e)).toEqual(ALL);
    e.control.holdButton(true);
    e.control.reset();
    expect(booted(e)).toEqual([]); // nothing ran (so no init handler was set either)
    e.control.holdButton(false);
  });

  it("the firmware's .boot0 guard runs with the button held and finds it pressed (factory reset), and the REPL comes back", async () => {
    const e = createEmulator({ board: "puckjs", clock: 1700000000, frozenClock: true });
    started.push(e);
    await e.start();
    const names = e.control.storage().map((f) => f.name);
    if (names.indexOf(".boot0") < 0) return; // no guard built (firmware/dist/boot0.js absent)
    e.device.storage.write("hwt.test", fromLatin1("x"));
    e.control.holdButton(true);
    e.control.reset();
    e.control.holdButton(false);
    expect(e.control.mode()).toBe("repl");
    expect(
      e.control
        .storage()
        .map((f) => f.name)
        .filter((n) => n.startsWith("hwt.")),
    ).toEqual([]);
  });
});

const missing = missingReason({ pipes: true });
for (const build of espruinoBuilds()) {
  describe("boot order on the real " + build.name + " (no button: power-up, reset(), load(), .bootrst)", () => {
    const image = async (withRst: boolean): Promise<Uint8Array> => {
      const e = await board(build.profile, withRst);
      await e.stop();
      return e.device.flash.bytes;
    };
    it(
      "matches the emulator's " + build.profile + " profile",
      async () => {
        for (const withRst of [false, true]) {
          const img = await image(withRst);
          const e = createEmulator({ board: build.profile, flashed: false });
          started.push(e);
          e.device.flash.bytes.set(img);
          await e.start();
          const emuPower = booted(e);
          e.device.evalExpr("reset()");
          e.device.afterTask();
          const emuReset = booted(e);
          e.device.evalExpr("load()");
          e.device.afterTask();
          const emuLoad = booted(e);

          const r = await Interpreter.start({ binary: build.binary, pipes: true, image: img });
          try {
            expect(await r.eval("typeof BOOT === 'undefined' ? [] : BOOT")).toEqual(emuPower);
            expect(await r.eval("BTNSEEN")).toEqual(["none", "none"]);
            await r.sendAndSettle("\x10reset()\n");
            expect(await r.eval("typeof BOOT === 'undefined' ? [] : BOOT")).toEqual(emuReset);
            await r.sendAndSettle("\x10load()\n");
            expect(await r.eval("typeof BOOT === 'undefined' ? [] : BOOT")).toEqual(emuLoad);
          } finally {
            await r.stop();
          }
          expect(emuPower).toEqual(withRst ? [".bootPowerOn", ".boot0", ".boot1", ".boot2", ".boot3", ".bootrst", "init", "onInit"] : ALL);
        }
      },
      60000,
    );
  });
}
describe.skipIf(!missing)("boot order on the real interpreter", () => {
  it.skip("pending: " + missing, () => {});
});
