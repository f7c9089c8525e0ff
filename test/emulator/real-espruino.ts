// The real Espruino interpreter (its Linux builds, ../shared/espruino/espruino-linux*) driven over plain pipes,
// for the emulator's calibration and fidelity checks: a fresh process in its own temp folder (its Storage is
// espruino.flash there), REPL evaluation with markers, files written into Storage through the REPL (base64
// chunks, as small lines, so the 2,500-variable build never holds the whole bundle at once), load() into the
// firmware, then protocol requests on the same stdin/stdout (the firmware serves USB, the Linux console device).
//
// House rules kept here: the interpreter runs detached in its own process group and is stopped by its own pid
// (SIGKILL: the Linux build spins rather than exits on a closed stdin), also when the test fails (stopAll in
// afterEach/afterAll, and on process exit); no byte 0x04 is ever written (the Linux build exits on it).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_REPLY_LINE, createLineReader, encodeRequest, parseReply, type Reply } from "../../protocol/index.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface RealBuild {
  /** File name (espruino-linux, espruino-linux-2500). */
  name: string;
  binary: string;
  /** The emulator profile that models it. */
  profile: "linux" | "linux2500";
}

function executable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch (e) {
    return false;
  }
}

/** HWTOTP_ESPRUINO (a binary or a folder of espruino-linux*), else ../shared/espruino. */
export function realBuilds(): RealBuild[] {
  const where = process.env.HWTOTP_ESPRUINO || path.resolve(ROOT, "../shared/espruino");
  let files: string[];
  try {
    files = fs.statSync(where).isFile() ? [path.resolve(where)] : fs.readdirSync(where).filter((f) => /^espruino-linux/.test(f)).sort().map((f) => path.join(where, f));
  } catch (e) {
    return [];
  }
  return files.filter(executable).map((b) => ({ name: path.basename(b), binary: b, profile: /2500/.test(path.basename(b)) ? "linux2500" : "linux" }));
}

/** Why tests that need the real interpreter cannot run, or null. */
export function realMissing(): string | null {
  if (realBuilds().length) return null;
  return process.env.HWTOTP_ESPRUINO ? "HWTOTP_ESPRUINO=" + process.env.HWTOTP_ESPRUINO + " holds no espruino-linux* binary" : "no ../shared/espruino/espruino-linux* (set HWTOTP_ESPRUINO)";
}

const live = new Set<RealInterpreter>();
process.on("exit", () => {
  for (const r of live) r.kill();
});

/** Stops every interpreter still running (afterEach/afterAll). */
export async function stopAll(): Promise<void> {
  for (const r of Array.from(live)) await r.stop();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RealInterpreter {
  out = "";
  child: ChildProcess | null = null;
  private seq = 0;
  private replies = new Map<number, (r: Reply) => void>();
  private nextId = 1;
  private reader = createLineReader(MAX_REPLY_LINE, (line) => {
    const r = parseReply(line);
    if (r && r.id !== null && this.replies.has(r.id)) {
      const cb = this.replies.get(r.id)!;
      this.replies.delete(r.id);
      cb(r);
    }
  }, () => {});

  private constructor(readonly build: RealBuild, readonly dir: string) {}

  /** A fresh interpreter in a new temp folder (or `dir`, keeping its espruino.flash: a power cycle). */
  static async start(build: RealBuild, dir?: string): Promise<RealInterpreter> {
    const r = new RealInterpreter(build, dir || fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-real-")));
    await r.spawn();
    return r;
  }

  /**
   * A fresh interpreter whose Storage is `image` (an espruino.flash, e.g. the emulator's flash bytes for the
   * same board profile: both use Espruino's layout), started like a power-up: `firmware` waits for the firmware
   * in it to answer, else for the REPL prompt. No code goes through stdin (the Linux build's input thread races
   * with its main loop on long input: an IO-buffer assertion, seen now and then while uploading the bundle).
   */
  static async boot(build: RealBuild, image: Uint8Array, firmware = true): Promise<RealInterpreter> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-real-"));
    const full = Buffer.alloc(256 * 1024, 0xff);
    Buffer.from(image.buffer, image.byteOffset, Math.min(image.byteLength, full.length)).copy(full);
    fs.writeFileSync(path.join(dir, "espruino.flash"), full);
    const r = new RealInterpreter(build, dir);
    await r.spawn(firmware);
    return r;
  }

  private async spawn(firmware = false): Promise<void> {
    this.out = "";
    const c = spawn(this.build.binary, [], { cwd: this.dir, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    this.child = c;
    live.add(this);
    c.stdout!.on("data", (b: Buffer) => {
      const s = b.toString("latin1");
      this.out += s;
      this.reader.push(s);
    });
    c.stderr!.on("data", (b: Buffer) => (this.out += b.toString("latin1")));
    c.stdin!.on("error", () => {});
    if (!firmware) await this.waitFor(() => /\n>/.test(this.out), "the REPL prompt", 10000);
    else await this.answering();
  }

  /** Waits until the firmware answers a request. */
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
    while (!cond()) {
      if (this.child && (this.child.exitCode !== null || this.child.signalCode !== null)) throw new Error(this.build.name + " exited while waiting for " + what + "; output: " + this.out.slice(-400));
      if (Date.now() - t0 > ms) throw new Error("timed out after " + ms + " ms waiting for " + what + "; output: " + this.out.slice(-400));
      await sleep(5);
    }
  }

  /** Raw bytes to the console (never 0x04). */
  send(s: string): void {
    if (s.indexOf("\x04") >= 0) throw new Error("refusing to send 0x04 to the Linux build (it exits)");
    this.child!.stdin!.write(Buffer.from(s, "latin1"));
  }

  /** Evaluates `expr` at the REPL; resolves to its JSON value (undefined stays undefined). */
  async eval(expr: string, ms = 10000): Promise<any> {
    const n = ++this.seq;
    const open = "<<R" + n + ":";
    const close = ":R" + n + ">>";
    const from = this.out.length;
    this.send("\x10print(" + JSON.stringify(open) + "+JSON.stringify((function(){return " + expr + ";})())+" + JSON.stringify(close) + ")\n");
    let got: string | null = null;
    await this.waitFor(() => {
      const a = this.out.indexOf(open, from);
      if (a < 0) return false;
      const b = this.out.indexOf(close, a);
      if (b < 0) return false;
      got = this.out.substring(a + open.length, b);
      return true;
    }, "the value of " + expr.slice(0, 60), ms);
    return got === "undefined" || got === "" ? undefined : JSON.parse(got!);
  }

  /** Runs statements at the REPL and waits for them to finish (a marker printed after them). */
  async run(stmts: string, ms = 10000): Promise<string> {
    const n = ++this.seq;
    const mark = "<<D" + n + ">>";
    const from = this.out.length;
    this.send("\x10" + stmts + ";print(" + JSON.stringify(mark) + ")\n");
    await this.waitFor(() => this.out.indexOf(mark, from) >= 0, "statements " + stmts.slice(0, 60), ms);
    return this.out.substring(from, this.out.indexOf(mark, from));
  }

  /** Sends bytes, then waits until the output has gone quiet for `quietMs` (a reset or load() printing its banner). */
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

  /** Writes a Storage file through the REPL in base64 chunks (file sized by the first write). */
  async writeFile(name: string, data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : Buffer.from(data);
    const CHUNK = 384;
    for (let off = 0; off < bytes.length; off += CHUNK) {
      const b64 = bytes.subarray(off, off + CHUNK).toString("base64");
      const ok = await this.eval("require('Storage').write(" + JSON.stringify(name) + ",atob(" + JSON.stringify(b64) + ")," + off + (off === 0 ? "," + bytes.length : "") + ")");
      if (ok !== true) throw new Error("Storage.write of " + name + " at " + off + " gave " + JSON.stringify(ok) + "; output: " + this.out.slice(-300));
    }
  }

  /** Erases Storage, writes the files in order (as `hwtotp flash` does) and reboots into them with load(). */
  async flash(files: { name: string; data: Uint8Array | string }[]): Promise<void> {
    await this.run("require('Storage').eraseAll()");
    for (const f of files) await this.writeFile(f.name, f.data);
    this.send("\x10load()\n");
    await this.answering(); // the firmware takes the console
  }

  /** One protocol request; resolves to its reply. */
  request(op: string, a?: Record<string, unknown>, ms = 15000): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(id);
        reject(new Error("no reply to " + op + " within " + ms + " ms; output: " + this.out.slice(-300)));
      }, ms);
      this.replies.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.send(encodeRequest(id, op, a));
    });
  }

  async ok(op: string, a?: Record<string, unknown>): Promise<Record<string, any>> {
    const r = await this.request(op, a);
    if (!r.ok) throw new Error(op + " failed on " + this.build.name + ": " + r.e + " " + r.m);
    return r.d as Record<string, any>;
  }

  /** Power cycle: kill the process, start a new one on the same folder (Storage kept); `firmware`: wait for it to answer, else for the REPL. */
  async restart(firmware = true): Promise<void> {
    await this.stop(false);
    await this.spawn(firmware);
  }

  /** The Storage image as it lies in flash (espruino.flash). */
  flashImage(): Buffer {
    return fs.readFileSync(path.join(this.dir, "espruino.flash"));
  }

  kill(): void {
    const c = this.child;
    if (c && c.pid && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch (e) {
        /* gone */
      }
    }
  }

  async stop(removeDir = true): Promise<void> {
    const c = this.child;
    this.kill();
    if (c && c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once("exit", r));
    this.child = null;
    live.delete(this);
    for (const cb of this.replies.values()) void cb;
    this.replies.clear();
    if (removeDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
