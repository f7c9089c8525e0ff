/**
 * The hwtotp emulator: an Espruino board in-process, running firmware/dist/firmware.js from its Storage.
 *
 *   const emu = createEmulator({ board: "puckjs", clock: 1700000000 });
 *   await emu.start();                      // power up: boots .bootcde (the firmware) unless the button is held
 *   emu.onData((s) => …); emu.write(line);  // host side of the console port (USB / Bluetooth)
 *   const { path } = await emu.listenUnix(); // device link on a Unix socket, 0600 in a 0700 folder (--device unix:PATH)
 *   const { port } = await emu.listen();    // or TCP on 127.0.0.1, open to every local user: tests, the espruino CLI
 *   emu.control.advance(30);                // fast-forward the RTC, firing timers
 *   await emu.stop();
 *
 * Options: board (pico|puckjs|bangle2|original|linux|linux2500, default pico), stateFile (flash image kept across runs,
 * mode 0600), clock (Unix seconds at power-up; default: 0 as a board whose RTC lost power, host time on linux),
 * driftPpm, frozenClock (time moves only through control.advance/setClock), flashed (default true: .bootcde is
 * firmware/dist/firmware.js; false: a fresh board in REPL mode), firmwarePath, vars (override the variable cap).
 * Control (in-process as `control`, out of process as JSON lines over listenControlUnix() or listenControl()): setClock,
 * advance, setDrift, freeze, now, pressButton, holdButton, reset, powerCycle, powerCutAfter, heap, storage, readFile,
 * leds, mode, fault. The control channel reads the slot files (the seeds) and presses the button: whoever reaches it
 * owns the token, so out of process it is a Unix socket only this user can open, unless TCP is asked for by name.
 */
import { getBoard, type BoardName, type BoardProfile } from "./boards.ts";
import { VirtualClock } from "./clock.ts";
import { Device, type HeapInfo } from "./device.ts";
import { installFirmware } from "./install.ts";
import { Links } from "./links.ts";
import { loadState, saveState } from "./state-file.ts";
import { Flash, latin1 } from "./storage.ts";
import { createLineReader, LIMITS, MAX_REPLY_LINE, parsePress } from "../../protocol/index.ts";
import type { PressData } from "../../protocol/index.ts";

export { BOARDS, getBoard } from "./boards.ts";
export type { BoardName, BoardProfile } from "./boards.ts";
export type { HeapInfo } from "./device.ts";

export interface EmulatorOptions {
  board?: BoardName | string;
  stateFile?: string;
  clock?: number;
  driftPpm?: number;
  frozenClock?: boolean;
  flashed?: boolean;
  firmwarePath?: string;
  vars?: number;
  heapCheck?: "always" | "sample" | "off";
  /** Diagnostics (uncaught errors, out of memory). */
  log?: (line: string) => void;
  /**
   * A user at the board who confirms what the firmware asks a press for: on each press notice it sends
   * (protocol PressNotice), a press of 100 ms, or of LIMITS.LONG_PRESS_MS + 500 ms when a long one is asked.
   * A function decides per notice (true: press). For tests and the demo; off by default.
   */
  autoPress?: boolean | ((p: PressData) => boolean);
}

export interface EmulatorControl {
  /** Sets the device's wall clock (as if its RTC had been set to t). */
  setClock(t: number): void;
  /**
   * Fast-forwards the RTC by `seconds` of device time (drift not applied: scale by 1 + ppm/1e6 yourself to
   * model host time passing), firing the timers due on the way.
   */
  advance(seconds: number): void;
  /** RTC drift while the clock runs in real time (not frozen): device ms = host ms × (1 + ppm/1e6). */
  setDrift(ppm: number): void;
  /** Freezes (true) or releases the clock; a frozen clock only moves through advance/setClock. */
  freeze(frozen: boolean): void;
  /** The device's getTime(). */
  now(): number;
  /** A press of `ms` milliseconds: the rising edge, the device clock moved on by `ms`, the falling edge. */
  pressButton(ms?: number): void;
  holdButton(down: boolean): void;
  /** Reset button: RAM lost, RTC kept, boots again. */
  reset(): void;
  /** Power loss and power-up: RAM lost; the RTC too (except the linux board's host clock). */
  powerCycle(): void;
  /** Cuts the power after `steps` more flash operations (program chunk / page erase). */
  powerCutAfter(steps: number): void;
  /** Flash operations so far. */
  flashSteps(): number;
  heap(): HeapInfo;
  storage(): { name: string; size: number }[];
  readFile(name: string): string | undefined;
  leds(): Record<string, boolean>;
  /**
   * "repl": the console is on the link; "firmware": a program moved it; "off": no power; "fault": the interpreter
   * crashed (see fault()) and answers nothing until reset or power-up.
   */
  mode(): "repl" | "firmware" | "off" | "fault";
  /**
   * Why the device crashed, or null: a compaction moved code running in a loop from memory-mapped flash, or a
   * lookup through a __proto__ that is not an object tripped the interpreter's assertion (device.ts, json.ts).
   */
  fault(): string | null;
}

export interface Emulator {
  readonly board: BoardProfile;
  readonly control: EmulatorControl;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Host → device bytes (latin1 string or bytes), as if sent on the console port. */
  write(data: string | Uint8Array): void;
  /** Device → host output; in-process listeners see everything, whichever TCP client owns the link. */
  onData(cb: (data: string) => void): () => void;
  /**
   * Device link on a Unix socket (mode 0600, in a folder only this user may enter: by default a new 0700 folder
   * the emulator removes on stop). One client at a time owns the link (like an exclusively opened serial port);
   * others wait their turn.
   */
  listenUnix(path?: string): Promise<{ path: string }>;
  /** The control channel (JSON lines) on a Unix socket, like listenUnix. */
  listenControlUnix(path?: string): Promise<{ path: string }>;
  /** TCP device link on 127.0.0.1: every local user can reach it (tests, tools that speak only TCP). */
  listen(o?: { port?: number; host?: string }): Promise<{ host: string; port: number }>;
  /** TCP control channel on 127.0.0.1: every local user can reach it, and with it the seeds. */
  listenControl(o?: { port?: number; host?: string }): Promise<{ host: string; port: number }>;
  /**
   * A pty (mode 0600) bridged to a Unix-socket device link through socat (null when socat is absent); the link
   * `linkPath` names it, by default in the emulator's private folder.
   */
  pty(linkPath?: string): Promise<{ path: string } | null>;
  /** The Device (interpreter internals), for tests. */
  readonly device: Device;
}

export function createEmulator(opts: EmulatorOptions = {}): Emulator {
  const board = getBoard(opts.board);
  const flash = new Flash(board.storageBytes, board.pageBytes, loadState(opts.stateFile, board));
  const clock = new VirtualClock({ frozen: opts.frozenClock, ppm: opts.driftPpm });
  const listeners = new Set<(s: string) => void>();
  let started = false;
  const persist = (): void => {
    if (opts.stateFile) saveState(opts.stateFile, board, flash);
  };
  const presser = opts.autoPress
    ? createLineReader(
        MAX_REPLY_LINE,
        (line) => {
          const n = line.indexOf('"press"') >= 0 ? parsePress(line) : null;
          if (!n || (typeof opts.autoPress === "function" && !opts.autoPress(n.press))) return;
          setImmediate(() => {
            if (device.powered) control.pressButton(n.press.long ? LIMITS.LONG_PRESS_MS + 500 : 100);
          });
        },
        () => {},
      )
    : null;
  const toHost = (s: string): void => {
    if (!device.powered) return;
    if (presser) presser.push(s);
    for (const cb of listeners) cb(s);
    links.send(s);
  };
  const device = new Device({ board, flash, clock, toHost, vars: opts.vars, heapCheck: opts.heapCheck, persist, log: opts.log });

  const control: EmulatorControl = {
    setClock: (t) => {
      clock.setTime(t);
    },
    advance: (s) => clock.advance(s),
    setDrift: (ppm) => clock.setDrift(ppm),
    freeze: (f) => clock.setFrozen(f),
    now: () => clock.now(),
    pressButton: (ms = 100) => {
      // The rising edge now, the falling edge `ms` later in device time: the RTC moves on by the press (timers due
      // meanwhile fire, as they would while a finger holds the button), so getTime() and the watch events'
      // time/lastTime both measure it.
      device.setButton(true);
      clock.advance(ms / 1000);
      device.setButton(false);
    },
    holdButton: (down) => device.setButton(down),
    reset: () => device.reset(),
    powerCycle: () => device.powerCycle(),
    powerCutAfter: (steps) => device.cutPowerAfter(steps),
    flashSteps: () => flash.steps,
    heap: () => device.heap(),
    storage: () => device.storage.scan().live.map((f) => ({ name: f.name, size: f.size })),
    readFile: (name) => {
      const b = device.storage.readBytes(name);
      return b ? latin1(b) : undefined;
    },
    leds: () => device.leds(),
    mode: () => (!device.powered ? "off" : device.faulted ? "fault" : device.consoleName === board.consoleDevice ? "repl" : "firmware"),
    fault: () => device.faultReason,
  };

  const emu: Emulator = {
    board,
    control,
    device,
    async start() {
      if (started) return;
      started = true;
      if (installFirmware(device.storage, opts)) persist();
      device.powerUp(opts.clock !== undefined ? opts.clock : board.rtc === "host" ? Date.now() / 1000 : 0);
    },
    async stop() {
      started = false;
      device.powerOff();
      await links.close();
    },
    write(data) {
      device.input(typeof data === "string" ? data : latin1(data));
    },
    onData(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    listenUnix: (p) => links.listenUnix(p),
    listenControlUnix: (p) => links.listenControlUnix(p),
    listen: (o) => links.listen(o),
    listenControl: (o) => links.listenControl(o),
    pty: (linkPath) => links.pty(linkPath),
  };
  const links = new Links((s) => emu.write(s), control);
  return emu;
}
