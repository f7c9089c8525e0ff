// Flashing: a factory reset. Through the real espruino CLI (offline, with the board JSON shipped in
// firmware/boards/) it erases the board's Storage, writes firmware/dist/firmware.js as `.bootcde` first and
// the boot guard firmware/dist/boot0.js as `.boot0` next (when the build made one), reboots with load(), then
// checks that our firmware answers hello with the expected version. Written first after an erase, the running
// code sits at the start of Storage and no compaction ever moves it (on memory-mapped flash, STM32 and nRF52,
// moving a running .bootcde garbles it). Works on a serial port and on tcp:// (emulator, socat).
//
// The espruino CLI prepends its --storage uploads to the -e expression and sends nothing before them, so
// the erase is a run of its own; .boot0 is written by the upload run's expression, after .bootcde, so the
// order is ours and not the order the CLI walks its --storage list in. That expression also checks that the
// files arrived whole before it boots them (a link that drops data leaves chunks unwritten), and flashing
// starts again from the erase when they did not.
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { HelloData } from "../../protocol/index.ts";
import { getBoard } from "../../firmware/espruino-facts.mjs";
import { defaultFirmwarePath, packageRoot } from "./paths.ts";
import { FirmwareError, HwtotpError } from "./errors.ts";

/** What flashing does to the board, said before it starts (hwtotp flash prints it). */
export const FACTORY_RESET_NOTICE =
  "Flashing is a factory reset: it erases the board's Storage (every slot, the PIN and the clock settings), then writes the firmware.";

export interface FlashOptions {
  /** Serial path or tcp://HOST:PORT. */
  port: string;
  board?: string;
  firmwarePath?: string;
  /**
   * The boot guard to store as `.boot0` (after `.bootcde`, before every other file). Default: boot0.js beside
   * the default bundle (firmware/dist/boot0.js) when it exists, none otherwise; null: none.
   */
  boot0Path?: string | null;
  /** Firmware version hello must report (default: package.json's version). */
  expectVersion?: string;
  /** How long each espruino CLI run may take (default 180 s). */
  timeoutMs?: number;
  /**
   * Pause 250 ms after each Storage.write line (the CLI's default, for serial ports without reliable flow
   * control). Default: on for serial ports, off for tcp:// (the emulator, socat bridges).
   */
  throttle?: boolean;
  /** Progress lines (the espruino CLI's output). */
  log?: (line: string) => void;
}

export interface FlashResult {
  hello: HelloData;
  bytes: number;
  uploadMs: number;
  /** The Storage files written, in order (.bootcde, then .boot0 when there is one). */
  files: string[];
  /** Uploads it took (more than 1 when data was lost on the link and it started again). */
  attempts: number;
}

export class FlashError extends HwtotpError {
  constructor(message: string) {
    super(message);
    this.code = "E_FLASH";
  }
}

export function espruinoCliPath(): string {
  return createRequire(import.meta.url).resolve("espruino/bin/espruino-cli.js");
}

export function boardJsonPath(board: string): string {
  return path.join(packageRoot(), "firmware", "boards", getBoard(board).boardJson);
}

/** firmware/dist/boot0.js when the build made one, else null. */
export function defaultBoot0Path(): string | null {
  const p = path.join(path.dirname(defaultFirmwarePath()), "boot0.js");
  return fs.existsSync(p) ? p : null;
}

function boot0Of(o: FlashOptions): string | null {
  if (o.boot0Path === null) return null;
  if (o.boot0Path !== undefined) return o.boot0Path;
  return o.firmwarePath && path.resolve(o.firmwarePath) !== path.resolve(defaultFirmwarePath()) ? null : defaultBoot0Path();
}

/** Printed by the erase run once Storage is empty: proves the erase ran to its end. */
const ERASED = "hwtotp:erased:";

/** Runs the espruino CLI with args (after the common ones). Resolves with its output once it exits. */
function runEspruinoCli(o: FlashOptions, args: string[]): Promise<{ output: string; ms: number }> {
  const all = [espruinoCliPath(), "--no-ble", "-p", o.port, "--board", boardJsonPath(o.board || "pico"), ...args];
  const throttle = o.throttle !== undefined ? o.throttle : !o.port.startsWith("tcp://");
  if (!throttle) all.splice(1, 0, "--config", "STORAGE_UPLOAD_METHOD=1");
  const t0 = Date.now();
  const timeoutMs = o.timeoutMs || 180000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, all, { cwd: packageRoot(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const onChunk = (b: Buffer) => {
      const s = b.toString("latin1");
      output += s;
      if (o.log) for (const line of s.split("\n")) if (line.trim()) o.log(line.replace(/\r$/, ""));
    };
    child.stdout.on("data", onChunk);
    child.stderr.on("data", onChunk);
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new FlashError("The espruino CLI did not finish within " + Math.round(timeoutMs / 1000) + " s."));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new FlashError("Could not run the espruino CLI: " + e.message));
    });
    child.on("exit", () => {
      clearTimeout(timer);
      resolve({ output, ms: Date.now() - t0 });
    });
  });
}

function cliFailure(what: string, output: string): FlashError {
  const why = /Unable to connect|Disconnected|Error[^\n]*/.exec(output);
  return new FlashError("The espruino CLI did not " + what + (why ? " (" + why[0].trim() + ")" : "") + ".");
}

/** Erases the board's whole Storage through the espruino CLI (the REPL must be on the port). */
export async function eraseWithEspruinoCli(o: FlashOptions): Promise<{ output: string; ms: number }> {
  const r = await runEspruinoCli(o, ["-e", 'require("Storage").eraseAll();print("' + ERASED + '"+require("Storage").list().length)']);
  if (r.output.indexOf(ERASED + "0") < 0) throw cliFailure("erase Storage", r.output);
  return r;
}

/** Printed by the upload run's check: "ok" when every file arrived whole (then it boots them), else "bad". */
const CHECK = "hwtotp:check:";

/**
 * The upload run's expression: writes .boot0 (when given), then checks that each file has its length and no
 * chunk left as erased flash (0xFF, absent from the source) by a line lost on the way, and only then reboots
 * with load(). On a link that loses data the REPL stays, and flashing starts again.
 */
/** The file that fills the firmware's last flash page (never erased: the boot guard erases hwt.* only). */
export const PAD_FILE = ".hwtpad";

function uploadExpr(files: { name: string; data: Buffer }[], boot0: Buffer | null, page: number): string {
  const lines: string[] = [];
  if (boot0) {
    // atob of base64 keeps every byte as it is in the file (the CLI would turn a raw string's control
    // characters into "?"); one Storage.write line, throttled like the CLI's own on serial ports
    lines.push('require("Storage").write(".boot0",atob("' + boot0.toString("base64") + '"));');
  }
  // A pad up to the next flash page (PAD_FILE), so the pages holding the firmware and its guard never hold
  // anything else: compaction (after every delete, wipe, PIN change) starts at the first page with an erased
  // file and rewrites it in place, which a power cut there would lose.
  if (page > 0) {
    lines.push(
      "(function(s,P){var g=s.getStats(),u=g.totalBytes-g.freeBytes,r=(u+32)%P;if(u%P)s.write(" +
        JSON.stringify(PAD_FILE) +
        ',new Uint8Array(r?P-r:P));})(require("Storage"),' +
        page +
        ");",
    );
  }
  // One byte in 16 and the last one see any chunk left unwritten (the CLI writes chunks of hundreds of
  // bytes), at a thousand reads: a scan of every byte is slow where flash is a file (the Linux build).
  const checks = files.map((f) => {
    const noFF = f.data.indexOf(0xff) < 0;
    const scan = noFF
      ? "for(var i=15;i<d.length;i+=16)if(d.charCodeAt(i)===255)return false;return d.charCodeAt(d.length-1)!==255;"
      : "return true;";
    return (
      "(function(d){if(d===undefined||d.length!==" +
      f.data.length +
      ")return false;" +
      scan +
      '})(require("Storage").read(' +
      JSON.stringify(f.name) +
      "))"
    );
  });
  lines.push("(function(ok){print(" + JSON.stringify(CHECK) + '+(ok?"ok":"bad"));if(ok)load();})(' + checks.join("&&") + ");");
  return lines.join("\n");
}

/**
 * Erases Storage, then uploads .bootcde (--storage .bootcde:FILE), writes .boot0 when there is one, checks
 * both arrived whole and reboots with load(), all through the espruino CLI. `check` is what the board said of
 * the files: "ok" (it booted them), "bad" (data was lost on the link: it stays erased-ish in its REPL), or
 * "unseen" when the CLI had quit before the board got there (a slow board: the hello that follows decides).
 */
export async function uploadWithEspruinoCli(
  o: FlashOptions,
): Promise<{ output: string; ms: number; files: string[]; check: "ok" | "bad" | "unseen" }> {
  const fw = o.firmwarePath || defaultFirmwarePath();
  if (!fs.existsSync(fw)) throw new FlashError("No firmware bundle at " + fw + ": run npm run build first.");
  const b0 = boot0Of(o);
  if (b0 !== null && !fs.existsSync(b0)) throw new FlashError("No boot guard at " + b0 + ".");
  const fwData = fs.readFileSync(fw);
  const b0Data = b0 !== null ? fs.readFileSync(b0) : null;
  const files = [{ name: ".bootcde", data: fwData }];
  if (b0Data) files.push({ name: ".boot0", data: b0Data });
  const erase = await eraseWithEspruinoCli(o);
  const up = await runEspruinoCli(o, [
    "--storage",
    ".bootcde:" + fw,
    "-e",
    uploadExpr(files, b0Data, getBoard(o.board || "pico").pageBytes),
  ]);
  if (!/Upload Complete/.test(up.output)) throw cliFailure("complete the upload", up.output);
  const check: "ok" | "bad" | "unseen" =
    up.output.indexOf(CHECK + "ok") >= 0 ? "ok" : up.output.indexOf(CHECK + "bad") >= 0 ? "bad" : "unseen";
  return { output: erase.output + up.output, ms: erase.ms + up.ms, files: files.map((f) => f.name), check };
}

/**
 * True when hwtotp firmware already owns the port: then the REPL is elsewhere and the espruino CLI cannot
 * upload (hold the board's button while resetting it to get the REPL back).
 */
export async function firmwareAnswers(port: string): Promise<string | null> {
  const { createLink } = await import("./link/index.ts");
  const { Session } = await import("./session.ts");
  const link = await createLink(port);
  try {
    const s = await Session.connect(link, { timeoutMs: 1500 });
    const fw = s.info ? s.info.fw : "?";
    await s.close();
    return fw;
  } catch (e) {
    try {
      await link.close();
    } catch (e2) {
      /* closed */
    }
    return null;
  }
}

/**
 * Listens (sending nothing) for the upload's verdict the CLI quit before: "ok", "bad", or "unseen" after ms.
 */
async function awaitCheck(port: string, ms: number): Promise<"ok" | "bad" | "unseen"> {
  const { createLink } = await import("./link/index.ts");
  const link = await createLink(port);
  let text = "";
  let done: ((v: "ok" | "bad" | "unseen") => void) | null = null;
  const verdict = new Promise<"ok" | "bad" | "unseen">((resolve) => (done = resolve));
  const look = () => {
    if (text.indexOf(CHECK + "ok") >= 0) done!("ok");
    else if (text.indexOf(CHECK + "bad") >= 0) done!("bad");
  };
  link.onData((d) => {
    text = (text + d).slice(-4096);
    look();
  });
  link.onClose(() => done!("unseen"));
  await link.open();
  const timer = setTimeout(() => done!("unseen"), ms);
  try {
    return await verdict;
  } finally {
    clearTimeout(timer);
    await link.close().catch(() => {});
  }
}

/**
 * Factory reset: erase, upload (.bootcde first, then .boot0), check, reboot, then confirm the firmware's hello.
 * When the files did not arrive whole (the board says so, or still answers as a plain REPL), it starts again
 * from the erase, up to `attempts` times (default 3).
 */
export async function flashFirmware(o: FlashOptions & { attempts?: number; checkTimeoutMs?: number }): Promise<FlashResult> {
  const fw = o.firmwarePath || defaultFirmwarePath();
  const expect = o.expectVersion || JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version;
  const running = await firmwareAnswers(o.port);
  if (running !== null) {
    throw new FlashError(
      "The board runs hwtotp firmware " +
        running +
        " and its REPL is elsewhere: hold the button while resetting it " +
        "(on a Pico, for over 2 s after power-up; on the emulator, control holdButton + reset), then flash again.",
    );
  }
  const { createLink } = await import("./link/index.ts");
  const { Session } = await import("./session.ts");
  const max = o.attempts || 3;
  let uploadMs = 0;
  for (let attempt = 1; ; attempt++) {
    const again = (why: string) => {
      if (attempt >= max) throw new FlashError(why + " " + max + " times: the board is left in its REPL; flash again.");
      if (o.log) o.log(why + ": erasing and uploading again (attempt " + (attempt + 1) + " of " + max + ").");
    };
    const up = await uploadWithEspruinoCli(o);
    uploadMs += up.ms;
    // The CLI quits soon after its last write, before a slow board has run it all: then the verdict is still
    // on its way, and a hello sent now would reach the REPL. Listen for it first.
    if (up.check === "unseen") up.check = await awaitCheck(o.port, o.checkTimeoutMs || 30000);
    if (up.check === "bad") {
      again("The firmware did not arrive whole (data lost on the link)");
      continue;
    }
    let last: unknown = null;
    let repl = false;
    for (let tries = 0; tries < 5; tries++) {
      const link = await createLink(o.port);
      try {
        const s = await Session.connect(link, { timeoutMs: 3000 });
        const hello = s.info!;
        await s.close();
        if (hello.fw !== expect) throw new FlashError("The board answers with firmware " + hello.fw + ", expected " + expect + ".");
        return { hello, bytes: fs.statSync(fw).size, uploadMs, files: up.files, attempts: attempt };
      } catch (e) {
        last = e;
        if (e instanceof FlashError) throw e;
        try {
          await link.close();
        } catch (e2) {
          /* closed */
        }
        if (e instanceof FirmwareError && e.repl) {
          repl = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (repl) {
      again("The board did not boot the firmware (it still answers as a plain REPL: data lost on the link?)");
      continue;
    }
    throw new FlashError("The firmware was uploaded but does not answer hello: " + (last instanceof Error ? last.message : String(last)));
  }
}
