// The real Espruino interpreter (its Linux build, ../shared/espruino/espruino-linux*) as a device for tests and
// the bench: a fresh process in its own temp folder (its Storage is espruino.flash there) behind socat, which
// gives the host a pty (DIR/tty, what `--device` names) and the interpreter a pty for its stdin/stdout; a
// 127.0.0.1 TCP listener bridges to that pty so the real `espruino` CLI can use tcp:// (it opens only serial
// paths that serialport lists, and a pty is never listed). flash() puts firmware/dist/firmware.js on it the
// way `hwtotp flash` does (host/src/flash.ts flashFirmware, through the espruino CLI), restart() is a power
// cycle (kill the process by its pid, start a new one on the same folder), flashImage() reads Storage as it
// lies in flash, cpuMs() reads the process's CPU time from /proc/PID/stat.
//
// With `pipes: true` the console is the process's own stdin/stdout instead (no socat, no pty, no TCP bridge):
// for the emulator's calibration and fidelity checks, which evaluate at the REPL (eval, run) or boot an image of
// the emulator's flash (`image`).
//
// Protocol requests go through the host's own client: a Session (host/src/session.ts) over a Link — the
// host's serial link on the pty (connect, ready), a PipeLink on the pipes (request, ok); test/harness/
// emu-session.ts turns its answers into raw replies. Hand-made frames (bad JSON, oversize lines, exact bytes)
// are written raw, and every line that comes back is kept (LineClient.lines) for the tests that count them.
//
// House rules kept here: socat and the interpreter run detached in their own process group and are stopped by
// their own pids; listeners are on 127.0.0.1 with a port the kernel picks; no byte 0x04 is ever written (the
// Linux build exits on it). Optional: libfaketime (Debian package faketime) freezes the interpreter's clock at
// a time the test sets (setFakeTime), for vectors at any time from 2020 to 2100 — the Linux build's setTime()
// does nothing and the firmware refuses clock jumps without a button, which this build does not have.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_REPLY_LINE, createLineReader, parseReply, type Reply } from "../../protocol/index.ts";
import type { HwtotpError } from "../../host/src/errors.ts";
import { createLink, disconnectedError, type Link } from "../../host/src/link/index.ts";
import { clientOn, type EmuClient } from "./emu-session.ts";
import { flashFirmware, type FlashOptions, type FlashResult } from "../../host/src/flash.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SHARED_ESPRUINO = path.resolve(ROOT, "../shared/espruino");

export interface Build {
  /** File name of the binary (espruino-linux, espruino-linux-2500). */
  name: string;
  binary: string;
  /** The emulator profile that models it. */
  profile: "linux" | "linux2500";
}

function build(binary: string): Build {
  const name = path.basename(binary);
  return { name, binary, profile: /2500/.test(name) ? "linux2500" : "linux" };
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The interpreter builds to run on: HWTOTP_ESPRUINO (one binary, or a folder holding espruino-linux*), else
 * ../shared/espruino/espruino-linux*. Empty when there are none (the suite is then pending).
 */
export function espruinoBuilds(): Build[] {
  const where = process.env.HWTOTP_ESPRUINO || SHARED_ESPRUINO;
  let st: fs.Stats;
  try {
    st = fs.statSync(where);
  } catch {
    return [];
  }
  if (st.isFile()) return isExecutable(where) ? [build(path.resolve(where))] : [];
  return fs
    .readdirSync(where)
    .filter((f) => /^espruino-linux/.test(f) && isExecutable(path.join(where, f)))
    .sort()
    .map((f) => build(path.join(where, f)));
}

/** The build named (e.g. espruino-linux-2500), else the first one. */
export function pickBuild(name: string): Build | undefined {
  const all = espruinoBuilds();
  return all.find((b) => b.name === name) || all[0];
}

export function haveSocat(): boolean {
  return spawnSync("sh", ["-c", "command -v socat"]).status === 0;
}

/** libfaketime's preload library when installed (Debian package faketime), else null. */
export function faketimeLibrary(): string | null {
  for (const p of [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
  ]) {
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/**
 * Why the real-interpreter suite cannot run here, or null when it can. `pipes`: for an interpreter on pipes
 * (the builds are enough: no socat, no firmware bundle).
 */
export function missingReason(o: { pipes?: boolean } = {}): string | null {
  if (espruinoBuilds().length === 0) {
    return process.env.HWTOTP_ESPRUINO
      ? "HWTOTP_ESPRUINO=" + process.env.HWTOTP_ESPRUINO + " holds no espruino-linux* binary"
      : "no ../shared/espruino/espruino-linux* (set HWTOTP_ESPRUINO)";
  }
  if (o.pipes) return null;
  if (!haveSocat()) return "socat is not installed";
  if (!fs.existsSync(path.join(ROOT, "firmware/dist/firmware.js"))) return "no firmware/dist/firmware.js (npm run build)";
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for cond() (checked every `every` ms), failing with `what` after `ms`. */
export async function waitUntil(cond: () => boolean, what: string, ms = 10000, every = 10): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out after " + ms + " ms waiting for " + what);
    await sleep(every);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function exited(c: ChildProcess): boolean {
  return c.exitCode !== null || c.signalCode !== null;
}

function waitExit(c: ChildProcess): Promise<void> {
  return exited(c) ? Promise.resolve() : new Promise((r) => c.once("exit", () => r()));
}

/** The pids of a process's children (from /proc; /proc/PID/task/PID/children when the kernel has it). */
function childrenOf(pid: number): number[] {
  try {
    const s = fs.readFileSync("/proc/" + pid + "/task/" + pid + "/children", "utf8").trim();
    return s ? s.split(/\s+/).map(Number) : [];
  } catch {
    const out: number[] = [];
    for (const d of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = fs.readFileSync("/proc/" + d + "/stat", "utf8");
        const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
        if (Number(f[1]) === pid) out.push(Number(d));
      } catch {
        /* gone */
      }
    }
    return out;
  }
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** CPU time (user + system) of a process in ms, from /proc/PID/stat (resolution: one clock tick, 10 ms). */
export function cpuMsOf(pid: number): number {
  const st = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
  const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
  // fields after "(comm) ": state(3) ppid(4) … utime(14) stime(15): index = field - 3
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** CPU time in ms from /proc/PID/schedstat (ns resolution), or null where the kernel does not keep it. */
export function schedMsOf(pid: number): number | null {
  try {
    const v = Number(fs.readFileSync("/proc/" + pid + "/schedstat", "utf8").split(" ")[0]);
    return v > 0 ? v / 1e6 : null;
  } catch {
    return null;
  }
}

/** One file found in an Espruino Storage image. */
export interface FlashFile {
  name: string;
  /** Byte offset of its header in the image. */
  offset: number;
  size: number;
  /** Erased (trash until compaction). */
  erased: boolean;
  /** Its contents as a latin1 string. */
  data: string;
}

/**
 * The files of an Espruino Storage image (jsflash.c): each file is a header {uint32 size, char name[28]}
 * (the name's last byte holds flags) then its data, padded to 4 bytes; free flash is 0xFF, and an erased file
 * keeps its size with its name zeroed. Files never span a page boundary... except large ones, which this
 * reader does not need to tell apart: it walks headers from the start until free flash.
 */
export function storageFiles(image: Buffer, pageSize = 4096): FlashFile[] {
  const out: FlashFile[] = [];
  let off = 0;
  while (off + 32 <= image.length) {
    const size = image.readUInt32LE(off);
    if (size === 0xffffffff) {
      // free space: the rest of this page is empty; files continue on the next page (if any)
      const next = (Math.floor(off / pageSize) + 1) * pageSize;
      if (next >= image.length || image.readUInt32LE(next) === 0xffffffff) break;
      off = next;
      continue;
    }
    const nameBytes = image.subarray(off + 4, off + 32);
    let end = nameBytes.indexOf(0);
    if (end < 0) end = 27;
    const erased = nameBytes[0] === 0;
    const name = erased ? "" : nameBytes.subarray(0, Math.min(end, 27)).toString("latin1");
    out.push({ name, offset: off, size, erased, data: image.subarray(off + 32, off + 32 + size).toString("latin1") });
    off += 32 + ((size + 3) & ~3);
  }
  return out;
}

export interface ReplyLine {
  line: string;
  reply: Reply | null;
}

/**
 * The host's Session over one Link (requests: `request`), and every line that comes back kept in order
 * (replies parsed, other lines also kept as noise) for tests that write hand-made frames (`raw`) and count
 * their replies.
 */
export class LineClient {
  readonly lines: ReplyLine[] = [];
  readonly noise: string[] = [];
  private lineWaiters: Array<() => void> = [];
  /** Ids for hand-made frames: far from the Session's (below 2^20). */
  private nextRawId = 1_500_000_000 + Math.floor(Math.random() * 1e6);
  private reader = createLineReader(
    MAX_REPLY_LINE,
    (line) => {
      const r = parseReply(line);
      this.lines.push({ line, reply: r });
      if (!r) this.noise.push(line);
      const ws = this.lineWaiters;
      this.lineWaiters = [];
      for (const w of ws) w();
    },
    () => this.noise.push("<oversize reply>"),
  );
  private readonly client: EmuClient;

  private constructor(readonly link: Link) {
    this.client = clientOn(new TapLink(link, (s) => this.reader.push(s)), 10000, { firstId: 1 + Math.floor(Math.random() * 1e6) });
  }

  static async open(address: string): Promise<LineClient> {
    const link = await createLink(address);
    const c = new LineClient(link);
    await link.open();
    return c;
  }

  /** Writes raw text (never a 0x04 byte: the Linux build exits on it). */
  async raw(s: string): Promise<void> {
    if (s.indexOf("\x04") >= 0) throw new Error("refusing to send 0x04 to the Linux build (it exits on it)");
    await this.link.write(s);
  }

  /** Sends one request (through the Session) and resolves with its reply. */
  request(op: string, a?: Record<string, unknown>, timeoutMs = 10000): Promise<Reply> {
    return this.client.request(op, a, timeoutMs).catch((e: Error) => {
      const last = this.lines
        .slice(-3)
        .map((l) => l.line)
        .join(" | ");
      e.message += " (" + op + "; last lines: " + last + " noise: " + this.noise.slice(-3).join(" | ") + ")";
      throw e;
    });
  }

  /** A fresh request id (for hand-made frames). */
  id(): number {
    return this.nextRawId++;
  }

  /** Resolves once `n` reply lines (parsed replies) have arrived in all, failing after timeoutMs. */
  async waitReplies(n: number, timeoutMs = 10000): Promise<void> {
    const t0 = Date.now();
    while (this.lines.filter((l) => l.reply).length < n) {
      const left = timeoutMs - (Date.now() - t0);
      if (left <= 0) throw new Error("expected " + n + " replies, got " + this.lines.filter((l) => l.reply).length);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.lineWaiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** A Link that also hands every chunk it receives to `tap` (the raw line log beside the Session). */
class TapLink implements Link {
  constructor(
    private readonly inner: Link,
    private readonly tap: (chunk: string) => void,
  ) {}
  get address(): string {
    return this.inner.address;
  }
  get isOpen(): boolean {
    return this.inner.isOpen;
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  write(data: string): Promise<void> {
    return this.inner.write(data);
  }
  onData(cb: (chunk: string) => void): void {
    this.inner.onData((s) => {
      this.tap(s);
      cb(s);
    });
  }
  onClose(cb: (err?: HwtotpError) => void): void {
    this.inner.onClose(cb);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A Link over an interpreter's own stdin/stdout (latin1 both ways, as the console's bytes). Open from the
 * start; it ends when the process exits. Never writes 0x04.
 */
export class PipeLink implements Link {
  private dataCb: (chunk: string) => void = () => {};
  private closeCb: (err?: HwtotpError) => void = () => {};
  private open_ = true;

  constructor(
    private readonly child: ChildProcess,
    readonly address: string,
  ) {
    child.stdout!.on("data", (b: Buffer) => this.dataCb(b.toString("latin1")));
    child.once("exit", () => this.end(disconnectedError(address, "the interpreter exited")));
  }

  get isOpen(): boolean {
    return this.open_;
  }

  async open(): Promise<void> {}

  async write(data: string): Promise<void> {
    if (!this.open_) throw disconnectedError(this.address, "not open");
    if (data.indexOf("\x04") >= 0) throw new Error("refusing to send 0x04 to the Linux build (it exits on it)");
    this.child.stdin!.write(Buffer.from(data, "latin1"));
  }

  onData(cb: (chunk: string) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: HwtotpError) => void): void {
    this.closeCb = cb;
  }

  private end(err?: HwtotpError): void {
    if (!this.open_) return;
    this.open_ = false;
    const cb = this.closeCb;
    this.closeCb = () => {};
    cb(err);
  }

  async close(): Promise<void> {
    this.end();
  }
}

/** ok(reply): the data of a successful reply, else throws with its code and sentence. */
export function dataOf(r: Reply): Record<string, any> {
  if (!r.ok) throw new Error("device error " + r.e + ": " + r.m);
  return r.d as Record<string, any>;
}

export interface StartOptions {
  /** The interpreter binary (a Build's binary). */
  binary: string;
  /** Folder to run in (its espruino.flash is the Storage); default: a fresh temp folder. */
  dir?: string;
  /** Where that fresh temp folder goes (default os.tmpdir()). */
  tmpRoot?: string;
  /**
   * Freeze the interpreter's clock with libfaketime at this Unix time (setFakeTime moves it). Throws when
   * libfaketime is not installed (check faketimeLibrary() first). Not for flashing: under a frozen clock the
   * espruino CLI's upload crashes the interpreter (ASSERT(len <= 64) in jsdevices.c, its packet protocol);
   * flash on the real clock, then restart({fakeTime}).
   */
  fakeTime?: number;
  /**
   * With fakeTime: divide the interpreter's sleeps by this (libfaketime's rate, which a frozen clock ignores
   * but its sleep calls do not): its idle loop then sleeps 50/N ms, so a request sent alone is answered in
   * ~4 ms (N = 50) instead of ~54 ms. Default 50. Costs some idle CPU: not for measurements.
   */
  fastIdle?: number;
  /** Extra command-line arguments for the interpreter (e.g. ["-e", "…"]). */
  args?: string[];
  /**
   * The console on the process's own stdin/stdout, not a pty behind socat (no tty, no tcp(), no flash()):
   * eval, run, send, sendAndSettle, request and ok work on it.
   */
  pipes?: boolean;
  /**
   * With pipes, what each start (and restart) waits for: the REPL prompt (default) or, "firmware", an answer
   * to a request.
   */
  wait?: "repl" | "firmware";
  /**
   * The Storage to start on (an espruino.flash, e.g. the emulator's flash bytes for the same board profile:
   * both use Espruino's layout), padded to 256 KB with erased flash: a power-up, with no code through the
   * console (the Linux build's input thread races with its main loop on long input: an IO-buffer assertion,
   * seen now and then while uploading the bundle).
   */
  image?: Uint8Array;
}

/** Every interpreter still running (killed on process exit; stopAll in afterAll). */
const live = new Set<Interpreter>();
process.on("exit", () => {
  for (const it of live) it.killNow();
});

/** Stops every interpreter still running (afterEach/afterAll). */
export async function stopAll(): Promise<void> {
  for (const it of Array.from(live)) await it.stop();
}

/**
 * One interpreter process behind socat. Use Interpreter.start(); stop() in afterAll/finally (it also removes
 * the temp folder it made, unless keepDir).
 */
export class Interpreter {
  /** Path of the pty the host opens (a symlink socat makes in the folder). */
  readonly tty: string;
  private socat!: ChildProcess;
  private interpreterPid = 0;
  private server: net.Server | null = null;
  private serverPort = 0;
  private bridges = new Set<ChildProcess>();
  private pendingBridges = 0;
  private bridgeChain: Promise<void> = Promise.resolve();
  private socatLog = "";
  private ownsDir: boolean;
  private fakeFile: string | null = null;
  /** With pipes: the interpreter process, everything it printed (stdout and stderr) since it started, and the Session on it. */
  child: ChildProcess | null = null;
  out = "";
  private client: EmuClient | null = null;
  private seq = 0;

  private constructor(
    readonly binary: string,
    readonly dir: string,
    ownsDir: boolean,
    private opts: StartOptions,
  ) {
    this.tty = path.join(dir, "tty");
    this.ownsDir = ownsDir;
  }

  static async start(o: StartOptions): Promise<Interpreter> {
    const own = !o.dir;
    const dir = o.dir || fs.mkdtempSync(path.join(o.tmpRoot || os.tmpdir(), "hwtotp-espruino-"));
    if (o.image) {
      const full = Buffer.alloc(256 * 1024, 0xff);
      Buffer.from(o.image.buffer, o.image.byteOffset, Math.min(o.image.byteLength, full.length)).copy(full);
      fs.writeFileSync(path.join(dir, "espruino.flash"), full);
    }
    const it = new Interpreter(o.binary, dir, own, o);
    live.add(it);
    try {
      await it.spawn();
    } catch (e) {
      await it.stop();
      throw e;
    }
    return it;
  }

  /** The interpreter's pid (socat's child; it changes on restart). */
  get pid(): number {
    return this.interpreterPid;
  }

  get flashPath(): string {
    return path.join(this.dir, "espruino.flash");
  }

  private async spawn(): Promise<void> {
    try {
      fs.unlinkSync(this.tty);
    } catch {
      /* not there */
    }
    // A wrapper script keeps socat's address syntax free of the binary's path and arguments, and puts
    // libfaketime in the interpreter only (not in socat). `exec` keeps the pid.
    const env: string[] = [];
    if (this.opts.fakeTime !== undefined) {
      const lib = faketimeLibrary();
      if (!lib) throw new Error("libfaketime is not installed (Debian package faketime)");
      this.fakeFile = path.join(this.dir, "faketime.rc");
      if (!fs.existsSync(this.fakeFile)) this.setFakeTime(this.opts.fakeTime);
      env.push(
        "LD_PRELOAD=" + lib,
        "FAKETIME_TIMESTAMP_FILE=" + this.fakeFile,
        "FAKETIME_NO_CACHE=1",
        "FAKETIME_FMT=%s",
        "FAKETIME_DONT_FAKE_MONOTONIC=1",
      );
    }
    const q = (s: string) => "'" + s.replace(/'/g, "'\\''") + "'";
    const script = path.join(this.dir, "run.sh");
    fs.writeFileSync(
      script,
      "#!/bin/sh\nexec " +
        (env.length ? "env " + env.map(q).join(" ") + " " : "") +
        q(this.binary) +
        (this.opts.args || []).map((a) => " " + q(a)).join("") +
        "\n",
      { mode: 0o700 },
    );
    if (this.opts.pipes) return this.spawnOnPipes(script);
    this.socatLog = "";
    const verbose = process.env.HWTOTP_REAL_DEBUG === "socat" ? ["-v"] : []; // traffic on socat's stderr (socatLog)
    const socat = spawn("socat", [...verbose, "PTY,link=" + this.tty + ",raw,echo=0", "EXEC:" + script + ",pty,raw,echo=0"], {
      cwd: this.dir,
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
    });
    socat.stderr!.setEncoding("utf8").on("data", (s: string) => (this.socatLog += s));
    socat.unref();
    (socat.stderr as unknown as { unref?: () => void }).unref?.();
    this.socat = socat;
    await waitUntil(
      () => exited(socat) || (fs.existsSync(this.tty) && childrenOf(socat.pid!).length > 0),
      "socat to start the interpreter",
      10000,
    );
    if (exited(socat)) throw new Error("socat exited at start: " + this.socatLog.trim());
    this.interpreterPid = childrenOf(socat.pid!)[0];
  }

  private async spawnOnPipes(script: string): Promise<void> {
    this.out = "";
    const c = spawn(script, [], { cwd: this.dir, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    this.child = c;
    this.interpreterPid = c.pid!;
    c.stdout!.on("data", (b: Buffer) => (this.out += b.toString("latin1")));
    c.stderr!.on("data", (b: Buffer) => (this.out += b.toString("latin1")));
    c.stdin!.on("error", () => {});
    this.client = clientOn(new PipeLink(c, "pipes:" + path.basename(this.binary)), 15000);
    if (this.opts.wait === "firmware") await this.answering();
    else await this.waitFor(() => /\n>/.test(this.out), "the REPL prompt", 10000);
  }

  /** Waits until the firmware answers a request (pipes). */
  private async answering(): Promise<void> {
    const t0 = Date.now();
    for (;;) {
      try {
        await this.request("time", undefined, 500);
        return;
      } catch (e) {
        if (Date.now() - t0 > 15000) throw e;
      }
    }
  }

  private async waitFor(cond: () => boolean, what: string, ms: number): Promise<void> {
    const t0 = Date.now();
    const name = path.basename(this.binary);
    while (!cond()) {
      if (this.child && exited(this.child)) {
        throw new Error(name + " exited while waiting for " + what + "; output: " + this.out.slice(-400));
      }
      if (Date.now() - t0 > ms) throw new Error("timed out after " + ms + " ms waiting for " + what + "; output: " + this.out.slice(-400));
      await sleep(5);
    }
  }

  private pipes(): ChildProcess {
    if (!this.opts.pipes || !this.child) throw new Error("this interpreter's console is not on pipes (start it with pipes: true)");
    return this.child;
  }

  /** Raw bytes to the console on pipes (never 0x04). */
  send(s: string): void {
    if (s.indexOf("\x04") >= 0) throw new Error("refusing to send 0x04 to the Linux build (it exits)");
    this.pipes().stdin!.write(Buffer.from(s, "latin1"));
  }

  /**
   * Evaluates `expr` at the REPL; resolves to its JSON value (undefined stays undefined). On pipes, with
   * markers in the output; on the pty, replEval.
   */
  async eval(expr: string, ms = 10000): Promise<any> {
    if (!this.opts.pipes) return replEval(this, expr, ms);
    const n = ++this.seq;
    const open = "<<R" + n + ":";
    const close = ":R" + n + ">>";
    const from = this.out.length;
    const value = "JSON.stringify((function(){return " + expr + ";})())";
    this.send("\x10print(" + JSON.stringify(open) + "+" + value + "+" + JSON.stringify(close) + ")\n");
    let got: string | null = null;
    await this.waitFor(
      () => {
        const a = this.out.indexOf(open, from);
        if (a < 0) return false;
        const b = this.out.indexOf(close, a);
        if (b < 0) return false;
        got = this.out.substring(a + open.length, b);
        return true;
      },
      "the value of " + expr.slice(0, 60),
      ms,
    );
    return got === "undefined" || got === "" ? undefined : JSON.parse(got!);
  }

  /** Runs statements at the REPL (pipes) and waits for them to finish (a marker printed after them). */
  async run(stmts: string, ms = 10000): Promise<string> {
    const n = ++this.seq;
    const mark = "<<D" + n + ">>";
    const from = this.out.length;
    this.send("\x10" + stmts + ";print(" + JSON.stringify(mark) + ")\n");
    await this.waitFor(() => this.out.indexOf(mark, from) >= 0, "statements " + stmts.slice(0, 60), ms);
    return this.out.substring(from, this.out.indexOf(mark, from));
  }

  /** Sends bytes (pipes), then waits until the output has gone quiet for `quietMs` (a reset or load() printing its banner). */
  async sendAndSettle(s: string, quietMs = 300, ms = 10000): Promise<void> {
    let n = this.out.length;
    let since = Date.now();
    this.send(s);
    const t0 = Date.now();
    for (;;) {
      await sleep(20);
      if (this.out.length !== n) {
        n = this.out.length;
        since = Date.now();
      } else if (Date.now() - since >= quietMs && Date.now() - t0 >= quietMs) return;
      if (Date.now() - t0 > ms) throw new Error("output never settled after " + JSON.stringify(s));
    }
  }

  /** One protocol request on the pipes, through the host's Session; resolves to its reply. */
  request(op: string, a?: Record<string, unknown>, ms = 15000): Promise<Reply> {
    if (!this.client) return Promise.reject(new Error("this interpreter's console is not on pipes (start it with pipes: true)"));
    return this.client.request(op, a, ms).catch((e: Error) => {
      e.message += " (" + op + " on " + path.basename(this.binary) + "; output: " + this.out.slice(-300) + ")";
      throw e;
    });
  }

  /** The data of a request on the pipes that must succeed. */
  async ok(op: string, a?: Record<string, unknown>): Promise<Record<string, any>> {
    const r = await this.request(op, a);
    if (!r.ok) throw new Error(op + " failed on " + path.basename(this.binary) + ": " + r.e + " " + r.m);
    return r.d as Record<string, any>;
  }

  /** Moves the frozen clock (libfaketime) to Unix time t; takes effect at the interpreter's next getTime(). */
  setFakeTime(t: number): void {
    if (!this.fakeFile) throw new Error("this interpreter was started without fakeTime");
    const tmp = this.fakeFile + ".tmp";
    // FAKETIME_FMT=%s: Unix seconds (a fraction is kept), frozen; " xN" scales sleeps only
    fs.writeFileSync(tmp, String(t) + " x" + (this.opts.fastIdle || 50) + "\n");
    fs.renameSync(tmp, this.fakeFile);
  }

  /** CPU time (user + system) of the interpreter process so far, ms (/proc/PID/stat). */
  cpuMs(): number {
    return cpuMsOf(this.interpreterPid);
  }

  /** The same from /proc/PID/schedstat (ns resolution), or null. */
  schedMs(): number | null {
    return schedMsOf(this.interpreterPid);
  }

  /** The flash image (espruino.flash) as it is now. */
  flashImage(): Buffer {
    return fs.readFileSync(this.flashPath);
  }

  /** The files in Storage, in flash order (erased ones included, flagged). */
  storageFiles(): FlashFile[] {
    return fs.existsSync(this.flashPath) ? storageFiles(this.flashImage()) : [];
  }

  /**
   * A 127.0.0.1 TCP listener (port picked by the kernel) bridged to the pty: each connection gets its own
   * `socat STDIO FILE:tty` (detached, stopped by pid when the connection ends). For the espruino CLI.
   */
  async tcp(): Promise<string> {
    if (!this.server) {
      const server = net.createServer((sock) => {
        // One bridge at a time, like one opener of a serial port: a connection waits (paused) until the
        // previous bridge has exited; two socats reading the pty at once would each take part of the output
        // (seen under load: the CLI's second run lost its prompts and did not upload).
        sock.pause();
        sock.setNoDelay(true);
        let closed = false;
        sock.on("close", () => (closed = true));
        sock.on("error", () => (closed = true));
        this.pendingBridges++;
        const run = () =>
          new Promise<void>((done) => {
            this.pendingBridges--;
            if (closed) return done();
            const b = spawn("socat", ["STDIO", "FILE:" + this.tty + ",raw,echo=0"], { detached: true, stdio: ["pipe", "pipe", "ignore"] });
            this.bridges.add(b);
            // When the client hangs up, what it sent still goes to the device (socat drains its input, then
            // exits on EOF), as on a serial port: killing the bridge here lost the tail of uploads whenever the
            // interpreter was slower than the espruino CLI, which quits soon after its last write.
            const paced = pacedWriter(b.stdin!);
            const end = () => paced.end();
            sock.on("end", end);
            sock.on("close", end);
            sock.on("error", end);
            b.stdin!.on("error", () => {});
            b.on("exit", () => {
              this.bridges.delete(b);
              sock.destroy();
              done();
            });
            sock.on("data", (d: Buffer) => paced.write(d));
            b.stdout!.pipe(sock);
            if (process.env.HWTOTP_REAL_DEBUG) {
              // traffic log for debugging the harness: DIR/bridge.log
              const log = (dir: string) => (d: Buffer) =>
                fs.appendFileSync(path.join(this.dir, "bridge.log"), dir + " " + JSON.stringify(d.toString("latin1")) + "\n");
              sock.on("data", log(">"));
              b.stdout!.on("data", log("<"));
            }
            sock.resume();
          });
        this.bridgeChain = this.bridgeChain.then(run);
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      this.server = server;
      this.serverPort = (server.address() as net.AddressInfo).port;
    }
    return "tcp://127.0.0.1:" + this.serverPort;
  }

  /** Waits until no TCP bridge is open (the CLI's connection ended), so the pty is free for another opener. */
  async bridgesClosed(ms = 10000): Promise<void> {
    await waitUntil(() => this.bridges.size === 0 && this.pendingBridges === 0, "the TCP bridge to close", ms);
  }

  /**
   * Flashes firmware/dist/firmware.js (or o.firmwarePath) the way `hwtotp flash` does: host/src/flash.ts
   * flashFirmware through the espruino CLI over the TCP bridge, board "linux". Needs the REPL (a fresh
   * interpreter, or one whose Storage was erased). See withCrashRetry for the one retry it allows.
   */
  async flash(o: Partial<FlashOptions> = {}): Promise<FlashResult> {
    const port = await this.tcp();
    return this.withCrashRetry("flashing", async () => {
      const lines: string[] = [];
      try {
        const r = await flashFirmware({
          port,
          board: "linux",
          ...o,
          log: (l) => {
            lines.push(l);
            o.log?.(l);
          },
        });
        await this.bridgesClosed();
        return r;
      } catch (e) {
        (e as Error).message += "\n--- espruino CLI output ---\n" + lines.slice(-40).join("\n");
        throw e;
      }
    });
  }

  /** True while the interpreter process runs. */
  alive(): boolean {
    return this.interpreterPid > 0 && alive(this.interpreterPid) && !isZombieOrGone(this.interpreterPid);
  }

  /** What socat said about the interpreter (its exit status, the interpreter's stderr). */
  log(): string {
    return this.socatLog;
  }

  /**
   * Runs fn (an upload to a fresh interpreter); if the interpreter process died during it, starts a new one
   * on an empty Storage (a fresh board) and runs fn again, up to `tries` times in all. A harness limit, not
   * a firmware fault: under CPU load the Linux build's console input sometimes trips ASSERT(len <= 64) at
   * src/jsdevices.c:601 during an espruino CLI upload and exits (status 1), which a board does not do.
   * Counted in `crashes`.
   */
  async withCrashRetry<T>(what: string, fn: () => Promise<T>, tries = 3): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (this.alive() || attempt >= tries) {
          if (!this.alive()) (e as Error).message += "\n--- the interpreter exited; socat: " + this.socatLog.slice(-600);
          throw e;
        }
        this.crashes.push(
          what + ": " + (/ASSERT[^\r\n]*/.exec(this.socatLog)?.[0] || this.socatLog.trim().split("\n").slice(-1)[0] || "exited"),
        );
        await this.kill();
        fs.rmSync(this.flashPath, { force: true });
        await this.spawn();
      }
    }
  }

  /** Interpreter exits that withCrashRetry recovered from (what was running, and why). */
  readonly crashes: string[] = [];

  /** A raw protocol client on the pty (the host's serial link). Close it before flashing or restarting. */
  connect(): Promise<LineClient> {
    return LineClient.open(this.tty);
  }

  /**
   * Opens a client and waits for the firmware to answer hello (the boot may still be running: a request
   * sent early waits in the pty; hello is re-sent every 2 s in case it reached the REPL before the takeover).
   */
  async ready(timeoutMs = 15000): Promise<LineClient> {
    await waitUntil(() => fs.existsSync(this.tty), "the pty", timeoutMs);
    const c = await this.connect();
    const t0 = Date.now();
    let last: unknown = null;
    while (Date.now() - t0 < timeoutMs) {
      try {
        const r = await c.request("hello", {}, 2000);
        if (r.ok) return c;
        last = new Error(r.e + " " + r.m);
      } catch (e) {
        last = e;
      }
    }
    await c.close();
    throw new Error(
      "the firmware did not answer hello within " + timeoutMs + " ms: " + (last instanceof Error ? last.message : String(last)),
    );
  }

  /** process.memory() as hello reports it: {free, usage, total} (variables). */
  async heap(c: LineClient): Promise<{ free: number; usage: number; total: number }> {
    return dataOf(await c.request("hello")).heap;
  }

  /**
   * Power cycle: kill the interpreter by its pid (SIGKILL: a power cut), wait for socat, start anew on the
   * same folder. `fakeTime` (with `fastIdle`) restarts it under a frozen clock, null on the real one.
   */
  async restart(o: { fakeTime?: number | null; fastIdle?: number } = {}): Promise<void> {
    await this.kill();
    if (o.fakeTime !== undefined) {
      this.opts = { ...this.opts, fakeTime: o.fakeTime === null ? undefined : o.fakeTime, fastIdle: o.fastIdle ?? this.opts.fastIdle };
      this.fakeFile = null;
      if (o.fakeTime !== null) {
        try {
          fs.unlinkSync(path.join(this.dir, "faketime.rc"));
        } catch {
          /* none */
        }
      }
    }
    await this.spawn();
  }

  /** SIGKILL to the interpreter (its process group on pipes) now, without waiting (process exit). */
  killNow(): void {
    const c = this.child;
    if (c && c.pid && !exited(c)) {
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }

  private async kill(): Promise<void> {
    if (this.client) {
      await this.client.close();
      this.client = null;
    }
    if (this.child) {
      // SIGKILL: the Linux build spins rather than exits on a closed stdin
      const c = this.child;
      this.killNow();
      await waitExit(c);
      this.child = null;
      return;
    }
    for (const b of [...this.bridges]) {
      try {
        process.kill(b.pid!, "SIGTERM");
      } catch {
        /* gone */
      }
      await waitExit(b);
    }
    const pid = this.interpreterPid;
    if (pid && alive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    if (this.socat && !exited(this.socat)) {
      // socat ends by itself when its child dies; make sure of it
      const t = setTimeout(() => {
        try {
          process.kill(this.socat.pid!, "SIGTERM");
        } catch {
          /* gone */
        }
      }, 2000);
      await waitExit(this.socat);
      clearTimeout(t);
    }
    if (pid) await waitUntil(() => !alive(pid) || isZombieOrGone(pid), "the interpreter to exit", 5000);
  }

  /** Stops everything this harness started (by pid) and removes the temp folder it made. */
  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    live.delete(this);
    await this.kill();
    if (this.server) {
      await new Promise<void>((r) => this.server!.close(() => r()));
      this.server = null;
    }
    if (this.ownsDir && !opts.keepDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Feeds a stream at most PACE_BYTES per PACE_MS (in order; end() after the last byte). The Linux build has no
 * flow control on its console, and a burst of several KB while it is busy can trip ASSERT(len <= 64) in its
 * input path (src/jsdevices.c:601: the process exits), seen under CPU load during uploads. A USB board
 * paces the host by itself.
 */
const PACE_BYTES = 64;
const PACE_MS = 1;
function pacedWriter(out: NodeJS.WritableStream): { write(d: Buffer): void; end(): void } {
  const queue: Buffer[] = [];
  let timer: NodeJS.Timeout | null = null;
  let ending = false;
  const pump = () => {
    timer = null;
    let n = 0;
    while (queue.length && n < PACE_BYTES) {
      const head = queue[0];
      const take = Math.min(head.length, PACE_BYTES - n);
      out.write(head.subarray(0, take));
      n += take;
      if (take === head.length) queue.shift();
      else queue[0] = head.subarray(take);
    }
    if (queue.length) timer = setTimeout(pump, PACE_MS);
    else if (ending) out.end();
  };
  return {
    write(d) {
      if (ending) return;
      queue.push(d);
      if (!timer) timer = setTimeout(pump, 0);
    },
    end() {
      if (ending) return;
      ending = true;
      if (!timer) pump();
    },
  };
}

function isZombieOrGone(pid: number): boolean {
  try {
    const st = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
    return st.slice(st.lastIndexOf(")") + 2, st.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

/**
 * A fresh interpreter with the firmware flashed (on the real clock) and answering, restarted under a frozen
 * clock first when fakeTime is given. Returns it with a connected client.
 */
export async function flashedInterpreter(
  binary: string,
  o: { fakeTime?: number; fastIdle?: number; tmpRoot?: string; log?: (l: string) => void } = {},
): Promise<{ it: Interpreter; c: LineClient; flash: FlashResult }> {
  const it = await Interpreter.start({ binary, tmpRoot: o.tmpRoot });
  try {
    const flash = await it.flash({ log: o.log });
    if (o.fakeTime !== undefined) await it.restart({ fakeTime: o.fakeTime, fastIdle: o.fastIdle });
    const c = await it.ready();
    return { it, c, flash };
  } catch (e) {
    await it.stop();
    throw e;
  }
}

/**
 * Evaluates an expression on an interpreter in REPL mode (not flashed) over the pty and returns its value
 * (JSON). Uses the REPL's echo-off prefix (0x10) as the espruino CLI does.
 */
export async function replEval(it: Interpreter, expr: string, timeoutMs = 60000): Promise<unknown> {
  const link = await createLink(it.tty);
  let buf = "";
  let done: ((v: unknown) => void) | null = null;
  let fail: ((e: Error) => void) | null = null;
  const tag = "R" + Math.floor(Math.random() * 1e9);
  link.onData((s) => {
    buf += s;
    const m = new RegExp("<" + tag + ">(.*?)</" + tag + ">").exec(buf);
    if (m && done) done(JSON.parse(m[1]));
    else if (/Uncaught|SyntaxError/.test(buf) && buf.indexOf(tag + "-sent") < 0 && fail && /\r?\n>\s*$/.test(buf)) {
      // an error prints its message and then a fresh prompt
      fail(new Error("REPL error: " + buf.slice(-400)));
    }
  });
  link.onClose(() => {});
  await link.open();
  try {
    return await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("REPL did not answer within " + timeoutMs + " ms: " + buf.slice(-400))), timeoutMs);
      done = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      fail = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      // No Ctrl-C (0x03): at an idle prompt the Linux build says "Press Ctrl-C again to exit" and a second
      // one ends the process.
      void link.write("\x10print('<" + tag + ">'+JSON.stringify(" + expr + ")+'</" + tag + ">')\n");
    });
  } finally {
    await link.close();
  }
}
