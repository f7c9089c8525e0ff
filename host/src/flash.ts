// Flashing: uploads firmware/dist/firmware.js to a board's Storage as `.bootcde` through the real espruino CLI
// (offline, with the board JSON shipped in firmware/boards/), reboots it with load(), then checks that our
// firmware answers hello with the expected version. Works on a serial port and on tcp:// (emulator, socat).
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { HelloData } from "../../protocol/index.ts";
import { getBoard, packageRoot, defaultFirmwarePath } from "../../firmware/emulator/index.ts";
import { HwtotpError } from "./errors.ts";

export interface FlashOptions {
  /** Serial path or tcp://HOST:PORT. */
  port: string;
  board?: string;
  firmwarePath?: string;
  /** Firmware version hello must report (default: package.json's version). */
  expectVersion?: string;
  /** How long the upload may take (default 180 s). */
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

/** Runs the espruino CLI: --storage .bootcde:FILE -e load(). Resolves with its output once it exits. */
export function uploadWithEspruinoCli(o: FlashOptions): Promise<{ output: string; ms: number }> {
  const fw = o.firmwarePath || defaultFirmwarePath();
  if (!fs.existsSync(fw)) return Promise.reject(new FlashError("No firmware bundle at " + fw + ": run npm run build first."));
  const args = [espruinoCliPath(), "--no-ble", "-p", o.port, "--board", boardJsonPath(o.board || "pico"), "--storage", ".bootcde:" + fw, "-e", "load()"];
  const throttle = o.throttle !== undefined ? o.throttle : !o.port.startsWith("tcp://");
  if (!throttle) args.splice(1, 0, "--config", "STORAGE_UPLOAD_METHOD=1");
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: packageRoot(), stdio: ["ignore", "pipe", "pipe"] });
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
      reject(new FlashError("The espruino CLI did not finish within " + Math.round((o.timeoutMs || 180000) / 1000) + " s."));
    }, o.timeoutMs || 180000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new FlashError("Could not run the espruino CLI: " + e.message));
    });
    child.on("exit", () => {
      clearTimeout(timer);
      if (!/Upload Complete/.test(output)) {
        const why = /Unable to connect|Disconnected|Error[^\n]*/.exec(output);
        reject(new FlashError("The espruino CLI did not complete the upload" + (why ? " (" + why[0].trim() + ")" : "") + "."));
        return;
      }
      resolve({ output, ms: Date.now() - t0 });
    });
  });
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

/** Upload, reboot, then confirm the firmware's hello. */
export async function flashFirmware(o: FlashOptions): Promise<FlashResult> {
  const fw = o.firmwarePath || defaultFirmwarePath();
  const expect = o.expectVersion || JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version;
  const running = await firmwareAnswers(o.port);
  if (running !== null) {
    throw new FlashError("The board runs hwtotp firmware " + running + " and its REPL is elsewhere: hold the button while resetting it " +
      "(on a Pico, for over 2 s after power-up; on the emulator, control holdButton + reset), then flash again.");
  }
  const up = await uploadWithEspruinoCli(o);
  const { createLink } = await import("./link/index.ts");
  const { Session } = await import("./session.ts");
  let last: unknown = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const link = await createLink(o.port);
    try {
      const s = await Session.connect(link, { timeoutMs: 3000 });
      const hello = s.info!;
      await s.close();
      if (hello.fw !== expect) throw new FlashError("The board answers with firmware " + hello.fw + ", expected " + expect + ".");
      return { hello, bytes: fs.statSync(fw).size, uploadMs: up.ms };
    } catch (e) {
      last = e;
      if (e instanceof FlashError) throw e;
      try {
        await link.close();
      } catch (e2) {
        /* closed */
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new FlashError("The firmware was uploaded but does not answer hello: " + (last instanceof Error ? last.message : String(last)));
}
