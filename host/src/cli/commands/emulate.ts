// hwtotp emulate: runs the emulated board with the firmware until interrupted, its device link and control
// channel on Unix sockets only this user can open (0600 in a 0700 folder); TCP on 127.0.0.1 only when asked
// for by name, with a warning, since every local user can reach a TCP port; a pty too when socat is present.
import type { Command } from "commander";
import { UsageError } from "../../errors.ts";

interface EmulateOptions {
  listen?: string;
  control?: string;
  tcp?: boolean;
  state?: string;
  board: string;
  clock?: string;
  driftPpm?: string;
  fresh?: boolean;
  pty?: string | boolean;
  autoPress?: boolean;
  json?: boolean;
}

/** Where a channel listens: a Unix socket (path given or default) or 127.0.0.1 TCP. */
export type Listen = { kind: "unix"; path?: string } | { kind: "tcp"; port: number };

/** `--listen`/`--control`: `unix:PATH` or a path (with a /), `127.0.0.1:PORT` or `PORT` for TCP; none: `--tcp` decides. */
export function parseListen(s: string | undefined, what: string, tcp: boolean): Listen {
  if (s === undefined) return tcp ? { kind: "tcp", port: 0 } : { kind: "unix" };
  const t = s.trim();
  if (t.startsWith("unix:") && t.length > 5) return { kind: "unix", path: t.slice(5) };
  const m = /^(?:(?:tcp:\/\/)?(?:127\.0\.0\.1|localhost):)?(\d{1,5})$/.exec(t);
  if (m && Number(m[1]) <= 65535) return { kind: "tcp", port: Number(m[1]) };
  if (t.includes("/") && !t.includes("://")) return { kind: "unix", path: t };
  throw new UsageError("--" + what + " takes a socket path (unix:PATH) or 127.0.0.1:PORT (the emulator listens on 127.0.0.1 only).");
}

function num(s: string | undefined, what: string): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!isFinite(n)) throw new UsageError("--" + what + " takes a number.");
  return n;
}

export function register(program: Command): void {
  program
    .command("emulate")
    .description(
      "run an emulated Espruino board with the hwtotp firmware on Unix sockets only you can open (use it with --device unix:PATH)",
    )
    .option(
      "--listen <addr>",
      "device link: a socket path (unix:PATH), or 127.0.0.1:PORT for TCP (default: device.sock in a new 0700 folder)",
    )
    .option(
      "--control <addr>",
      "control channel, JSON lines: a socket path (unix:PATH), or 127.0.0.1:PORT for TCP (default: control.sock beside the device link)",
    )
    .option(
      "--tcp",
      "listen on 127.0.0.1 TCP (free ports) instead: every local user can then read codes and, over the control channel, the seeds",
    )
    .option("--state <file>", "keep the board's flash (slots, seeds in the clear unless a PIN is set) in this file across runs (mode 0600)")
    .option("--board <board>", "pico, puckjs, bangle2, original or linux", "pico")
    .option("--clock <unix>", "RTC at power-up, Unix seconds (default: the host's time; 0 = a board that lost its RTC)")
    .option("--drift-ppm <n>", "RTC drift in ppm (positive: runs fast)")
    .option("--fresh", "a board without the firmware: Espruino REPL (flash it with hwtotp flash --port on its --pty, or on --tcp)")
    .option("--pty [path]", "also expose the link as a pty (mode 0600) through socat (if installed)")
    .option(
      "--auto-press",
      "confirm every press the firmware asks for (delete, PIN changes, jumps, touch codes), as a user at the board would",
    )
    .option("--json", "print the addresses as one JSON document")
    .action(async (opts: EmulateOptions) => {
      const listen = parseListen(opts.listen, "listen", opts.tcp === true);
      const control = parseListen(opts.control, "control", opts.tcp === true);
      const { createEmulator } = await import("../../../../firmware/emulator/index.ts");
      const emu = await bindEmulator(() =>
        createEmulator({
          board: opts.board,
          stateFile: opts.state,
          clock: num(opts.clock, "clock") ?? Date.now() / 1000,
          driftPpm: num(opts.driftPpm, "drift-ppm"),
          flashed: opts.fresh ? false : undefined,
          autoPress: opts.autoPress === true,
          log: (l) => process.stderr.write("emulator: " + l + "\n"),
        }),
      );
      await emu.start();
      try {
        const dev = await bind(() =>
          listen.kind === "unix" ? emu.listenUnix(listen.path).then(unixAddress) : emu.listen({ port: listen.port }).then(tcpAddress),
        );
        const ctl = await bind(() =>
          control.kind === "unix"
            ? emu.listenControlUnix(control.path).then(unixAddress)
            : emu.listenControl({ port: control.port }).then(tcpAddress),
        );
        const ptyPath = opts.pty
          ? await bind(async () => (await emu.pty(typeof opts.pty === "string" ? opts.pty : undefined))?.path ?? "")
          : "";
        const pty = ptyPath ? { path: ptyPath } : null;
        if (listen.kind === "tcp")
          warn("the device link " + dev + " is open to every user of this machine: any of them can read codes from it");
        if (control.kind === "tcp")
          warn(
            "the control channel " + ctl + " is open to every user of this machine: any of them can read the seeds and press the button",
          );
        const info = { board: emu.board.name, device: dev, control: ctl, pty: pty ? pty.path : null, mode: emu.control.mode() };
        if (opts.json) process.stdout.write(JSON.stringify(info) + "\n");
        else {
          process.stdout.write("Emulated " + emu.board.envBoard + " (" + info.mode + ") listening on " + info.device + "\n");
          process.stdout.write("Control channel (JSON lines) on " + info.control + "\n");
          if (opts.pty) process.stdout.write(pty ? "Pty: " + pty.path + "\n" : "No pty: socat is not installed.\n");
          if (!opts.autoPress) {
            const send = ctl.startsWith("unix:") ? "socat - UNIX-CONNECT:" + ctl.slice(5) : "socat - TCP:" + ctl.slice(6);
            process.stdout.write(
              'Button presses (delete, PIN changes, jumps): echo \'{"cmd":"pressButton","args":[100]}\' | ' +
                send +
                "  (2500 ms for a long one), or run with --auto-press\n",
            );
          }
          process.stdout.write("Try: hwtotp --device " + info.device + " info   (Ctrl-C stops the emulator)\n");
        }
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      } finally {
        await emu.stop();
      }
    });
}

/** A socket the emulator cannot or will not bind (unsafe folder, taken path or port) is the user's to fix. */
async function bind(fn: () => Promise<string>): Promise<string> {
  try {
    return await fn();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(err.code === "EADDRINUSE" ? "That port is taken: " + err.message + "." : err.message);
  }
}

/** A state file the emulator refuses (a symlink, another board's, not JSON) is the user's to fix, in one sentence. */
async function bindEmulator<T>(fn: () => T): Promise<T> {
  try {
    return fn();
  } catch (e) {
    const err = e as Error;
    // not the parser's message: V8 quotes a piece of the input, and the state file holds the flash (the seeds)
    throw new UsageError(err instanceof SyntaxError ? "The --state file is not an emulator state file (not JSON)." : err.message);
  }
}

function unixAddress(a: { path: string }): string {
  return "unix:" + a.path;
}

function tcpAddress(a: { host: string; port: number }): string {
  return "tcp://" + a.host + ":" + a.port;
}

function warn(what: string): void {
  process.stderr.write("Warning: " + what + ". The emulator is no token: use TCP only on a machine of your own.\n");
}
