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
import { spawn, ChildProcess, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BoardName, BoardProfile, getBoard } from "./boards.ts";
import { VirtualClock } from "./clock.ts";
import { Device } from "./runtime.ts";
import { Flash, fromLatin1, latin1 } from "./storage.ts";
import { createLineReader, LIMITS, MAX_REPLY_LINE, parsePress, type PressData } from "../../protocol/index.ts";
import { writePrivateFile } from "../../host/src/private-file.ts";

export { BOARDS, getBoard } from "./boards.ts";
export type { BoardName, BoardProfile } from "./boards.ts";

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

export interface HeapInfo {
  usage: number;
  total: number;
  free: number;
  /** Highest usage seen since boot, including what tasks allocated through the API while they ran. */
  peak: number;
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
   * lookup through a __proto__ that is not an object tripped the interpreter's assertion (runtime.ts, json.ts).
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

// The package's paths (shared with the host): host/src/paths.ts.
export { defaultFirmwarePath, packageRoot } from "../../host/src/paths.ts";
import { defaultFirmwarePath } from "../../host/src/paths.ts";

function loadState(file: string | undefined, board: BoardProfile): Uint8Array | undefined {
  if (!file) return undefined;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new Error("State file " + file + " is a symlink; name the file itself.");
    throw e;
  }
  let text: string;
  try {
    text = fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
  const o = JSON.parse(text);
  if (o.board !== board.name) throw new Error("State file " + file + " belongs to board " + o.board + ", not " + board.name + ".");
  return new Uint8Array(Buffer.from(o.flash, "base64"));
}

/** The flash image holds the seeds in the clear (unless a PIN encrypts them): a private file, never through a symlink. */
function saveState(file: string, board: BoardProfile, flash: Flash): void {
  writePrivateFile(file, JSON.stringify({ v: 1, board: board.name, flash: Buffer.from(flash.bytes.subarray(0, flash.usedLength())).toString("base64") }));
}

/** Why `dir` is no place for the emulator's sockets (another user could enter it or swap a socket), or null. */
function unsafeFolder(dir: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    return "it does not exist";
  }
  if (st.isSymbolicLink()) return "it is a symlink";
  if (!st.isDirectory()) return "it is not a folder";
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) return "it belongs to another user";
  if ((st.mode & 0o077) !== 0) return "other users may enter it (chmod 700 it)";
  return null;
}

export function createEmulator(opts: EmulatorOptions = {}): Emulator {
  const board = getBoard(opts.board);
  const flash = new Flash(board.storageBytes, board.pageBytes, loadState(opts.stateFile, board));
  const clock = new VirtualClock({ frozen: opts.frozenClock, ppm: opts.driftPpm });
  const listeners = new Set<(s: string) => void>();
  const sockets = new Set<net.Socket>();
  // The device link is a serial port opened exclusively: one TCP client at a time owns it; later ones wait
  // (paused, their bytes held) until it closes, so two clients never see each other's replies.
  let active: net.Socket | null = null;
  const waiting: net.Socket[] = [];
  const attach = (): void => {
    while (!active && waiting.length) {
      const so = waiting.shift()!;
      if (so.destroyed) continue;
      active = so;
      so.resume();
    }
  };
  const detach = (so: net.Socket): void => {
    sockets.delete(so);
    const i = waiting.indexOf(so);
    if (i >= 0) waiting.splice(i, 1);
    if (active === so) {
      active = null;
      attach();
    }
  };
  const servers: net.Server[] = [];
  const children: ChildProcess[] = [];
  /** The 0700 folder this emulator made for its sockets and pty link (removed on stop), and the sockets it bound. */
  let ownDir: string | null = null;
  const boundPaths: string[] = [];
  const privateDir = (): string => {
    if (!ownDir) ownDir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-emu-")); // mkdtemp: mode 0700
    return ownDir;
  };
  let started = false;
  const persist = (): void => {
    if (opts.stateFile) saveState(opts.stateFile, board, flash);
  };
  const presser = opts.autoPress
    ? createLineReader(MAX_REPLY_LINE, (line) => {
        const n = line.indexOf('"press"') >= 0 ? parsePress(line) : null;
        if (!n || (typeof opts.autoPress === "function" && !opts.autoPress(n.press))) return;
        setImmediate(() => {
          if (device.on) control.pressButton(n.press.long ? LIMITS.LONG_PRESS_MS + 500 : 100);
        });
      }, () => {})
    : null;
  const toHost = (s: string): void => {
    if (!device.on) return;
    if (presser) presser.push(s);
    for (const cb of listeners) cb(s);
    if (active) active.write(Buffer.from(s, "latin1"));
  };
  const device = new Device({ board, flash, clock, toHost, vars: opts.vars, heapCheck: opts.heapCheck, persist, log: opts.log });
  flash.onCut = () => {
    device.on = false;
    clock.stop();
    persist();
  };

  function powerUp(t: number): void {
    flash.dead = false;
    flash.cutAfter = -1;
    clock.powerUp(t);
    clock.running = true;
    device.boot({ kind: "power" });
    clock.schedule();
  }

  function installFirmware(): void {
    if (opts.flashed === false) return;
    const fw = opts.firmwarePath || defaultFirmwarePath();
    if (!fs.existsSync(fw)) {
      if (opts.flashed === true || opts.firmwarePath) throw new Error("Firmware bundle " + fw + " not found: run npm run build.");
      return;
    }
    const code = fs.readFileSync(fw, "latin1");
    // the boot guard beside it, as `hwtotp flash` writes it (firmware/src/guard.ts), unless a firmwarePath
    // names another bundle
    const guardFile = path.join(path.dirname(fw), "boot0.js");
    const guard = !opts.firmwarePath && fs.existsSync(guardFile) ? fs.readFileSync(guardFile, "latin1") : null;
    const cur = device.storage.readBytes(".bootcde");
    const had = device.storage.readBytes(".boot0");
    if (!cur || latin1(cur) !== code || (guard !== null && (!had || latin1(had) !== guard))) {
      // Firmware and guard first, then the files kept (as after `hwtotp flash`, minus its erase), so that no
      // compaction ever moves the running firmware.
      const keep = device.storage.list().filter((n) => n !== ".bootcde" && n !== ".boot0" && n !== ".hwtpad").map((n) => ({ n, b: device.storage.readBytes(n)! }));
      device.storage.eraseAll();
      device.storage.write(".bootcde", fromLatin1(code));
      if (guard !== null) device.storage.write(".boot0", fromLatin1(guard));
      // the pad `hwtotp flash` writes (host/src/flash.ts PAD_FILE): nothing else shares the firmware's pages
      const end = device.storage.scan().end;
      const r = (end + 32) % flash.pageBytes;
      if (end % flash.pageBytes) device.storage.write(".hwtpad", new Uint8Array(r ? flash.pageBytes - r : flash.pageBytes));
      for (const f of keep) device.storage.write(f.n, f.b);
    }
    persist();
  }

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
    reset: () => {
      const t = clock.now();
      powerUp(board.rtc === "host" ? Date.now() / 1000 : t);
    },
    powerCycle: () => {
      powerUp(board.rtc === "host" ? Date.now() / 1000 : 0);
    },
    powerCutAfter: (steps) => {
      flash.cutAfter = steps;
    },
    flashSteps: () => flash.steps,
    heap: () => {
      const usage = device.measureHeap();
      return { usage: usage, total: device.totalVars, free: Math.max(0, device.totalVars - usage), peak: Math.max(device.peak, usage) };
    },
    storage: () => device.storage.scan().live.map((f) => ({ name: f.name, size: f.size })),
    readFile: (name) => {
      const b = device.storage.readBytes(name);
      return b ? latin1(b) : undefined;
    },
    leds: () => {
      const o: Record<string, boolean> = {};
      for (const l of board.leds) o[l] = device.pins.get(l)!.state;
      return o;
    },
    mode: () => (!device.on ? "off" : device.fault ? "fault" : device.consoleName === board.consoleDevice ? "repl" : "firmware"),
    fault: () => (device.fault ? device.fault.reason : null),
  };

  function serve(o: { port?: number; host?: string } | undefined, onConn: (so: net.Socket) => void): Promise<{ host: string; port: number }> {
    const host = (o && o.host) || "127.0.0.1";
    if (host !== "127.0.0.1" && host !== "localhost" && host !== "::1") return Promise.reject(new Error("The emulator listens on 127.0.0.1 only."));
    return new Promise((resolve, reject) => {
      const srv = net.createServer(onConn);
      srv.on("error", reject);
      srv.listen((o && o.port) || 0, host, () => {
        servers.push(srv);
        resolve({ host: host, port: (srv.address() as net.AddressInfo).port });
      });
    });
  }

  /** A Unix-socket server at `p` (default: NAME in the private folder), mode 0600, in a folder only this user enters. */
  async function serveUnix(p: string | undefined, name: string, onConn: (so: net.Socket) => void): Promise<{ path: string }> {
    const sock = p ? path.resolve(p) : path.join(privateDir(), name);
    if (!fs.existsSync(path.dirname(sock))) fs.mkdirSync(path.dirname(sock), { recursive: true, mode: 0o700 });
    const bad = unsafeFolder(path.dirname(sock));
    if (bad) throw new Error("Will not put the emulator's socket in " + path.dirname(sock) + ": " + bad + ".");
    let old: fs.Stats | null = null;
    try {
      old = fs.lstatSync(sock);
    } catch (e) {
      /* free */
    }
    if (old) {
      if (!old.isSocket()) throw new Error(sock + " exists and is not a socket; name another path.");
      const alive = await new Promise<boolean>((resolve) => {
        const c = net.connect(sock);
        c.once("connect", () => (c.destroy(), resolve(true)));
        c.once("error", () => resolve(false));
      });
      if (alive) throw new Error("Something already listens on " + sock + ".");
      fs.unlinkSync(sock);
    }
    const srv = net.createServer(onConn);
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      // bind(2) creates the socket file under the umask: none of it for others, from the first instant (a worker
      // thread cannot change the umask; the 0700 folder covers the moment until the chmod below)
      let mask: number | null = null;
      try {
        mask = process.umask(0o177);
      } catch (e) {
        /* worker thread */
      }
      try {
        srv.listen(sock, () => resolve());
      } finally {
        if (mask !== null) process.umask(mask);
      }
    });
    fs.chmodSync(sock, 0o600);
    servers.push(srv);
    boundPaths.push(sock);
    return { path: sock };
  }

  const onDeviceConn = (so: net.Socket): void => {
    if (so.remoteFamily) so.setNoDelay(true);
    sockets.add(so);
    so.pause();
    so.on("data", (b: Buffer) => {
      if (active === so) emu.write(b.toString("latin1"));
    });
    so.on("close", () => detach(so));
    so.on("error", () => detach(so));
    waiting.push(so);
    attach();
  };

  const onControlConn = (so: net.Socket): void => {
    let buf = "";
    sockets.add(so);
    so.setEncoding("utf8");
    so.on("error", () => {});
    so.on("close", () => sockets.delete(so));
    so.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.substring(0, nl).trim();
        buf = buf.substring(nl + 1);
        if (!line) continue;
        let id: unknown = null;
        try {
          const req = JSON.parse(line);
          id = req.id;
          const fn = (control as any)[req.cmd];
          if (typeof fn !== "function") throw new Error("Unknown control command " + JSON.stringify(req.cmd));
          const result = fn.apply(control, Array.isArray(req.args) ? req.args : []);
          so.write(JSON.stringify({ id: id, ok: true, result: result === undefined ? null : result }) + "\n");
        } catch (e) {
          so.write(JSON.stringify({ id: id, ok: false, error: (e as Error).message }) + "\n");
        }
      }
    });
  };

  const emu: Emulator = {
    board,
    control,
    device,
    async start() {
      if (started) return;
      started = true;
      installFirmware();
      powerUp(opts.clock !== undefined ? opts.clock : board.rtc === "host" ? Date.now() / 1000 : 0);
    },
    async stop() {
      started = false;
      device.on = false;
      clock.stop();
      persist();
      for (const c of children) {
        if (c.pid && c.exitCode === null) {
          try {
            process.kill(-c.pid, "SIGTERM");
          } catch (e) {
            /* gone */
          }
        }
      }
      for (const so of sockets) so.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(null)))));
      servers.length = 0;
      for (const p of boundPaths.splice(0)) fs.rmSync(p, { force: true });
      if (ownDir) fs.rmSync(ownDir, { recursive: true, force: true });
      ownDir = null;
    },
    write(data) {
      if (!device.on || device.fault) return; // a crashed device reads nothing
      const s = typeof data === "string" ? data : latin1(data);
      device.hostPort.input(s);
    },
    onData(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    listenUnix: (p) => serveUnix(p, "device.sock", onDeviceConn),
    listenControlUnix: (p) => serveUnix(p, "control.sock", onControlConn),
    listen: (o) => serve(o, onDeviceConn),
    listenControl: (o) => serve(o, onControlConn),
    async pty(linkPath) {
      if (spawnSync("sh", ["-c", "command -v socat"]).status !== 0) return null;
      const p = linkPath ? path.resolve(linkPath) : path.join(privateDir(), "tty");
      // a link another user could swap would hand hwtotp their pty in place of this board
      const bad = unsafeFolder(path.dirname(p));
      if (bad) throw new Error("Will not put the emulator's pty link in " + path.dirname(p) + ": " + bad + ".");
      const link = await emu.listenUnix(path.join(privateDir(), "pty-" + children.length + ".sock"));
      const child = spawn("socat", ["PTY,link=" + p + ",raw,echo=0", "UNIX-CONNECT:" + link.path], { detached: true, stdio: "ignore" });
      child.unref();
      children.push(child);
      for (let i = 0; i < 100 && !fs.existsSync(p); i++) await new Promise((r) => setTimeout(r, 20));
      if (!fs.existsSync(p)) throw new Error("socat did not create " + p);
      fs.chmodSync(fs.realpathSync(p), 0o600); // the pty itself: this user only, whatever the system's default
      return { path: p };
    },
  };
  return emu;
}
