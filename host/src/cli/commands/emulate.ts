// hwtotp emulate: runs the emulated board with the firmware on a TCP device link (and a control channel,
// and a pty when socat is present) until interrupted.
import type { Command } from "commander";
import { UsageError } from "../../errors.ts";

interface EmulateOptions {
  listen?: string;
  control?: string;
  state?: string;
  board: string;
  clock?: string;
  driftPpm?: string;
  fresh?: boolean;
  pty?: string | boolean;
  autoPress?: boolean;
  json?: boolean;
}

function hostPort(s: string | undefined, what: string): { host: string; port: number } {
  if (!s) return { host: "127.0.0.1", port: 0 };
  const m = /^(?:(127\.0\.0\.1|localhost):)?(\d{1,5})$/.exec(s.trim());
  if (!m || Number(m[2]) > 65535) throw new UsageError("--" + what + " takes 127.0.0.1:PORT (the emulator listens on 127.0.0.1 only).");
  return { host: "127.0.0.1", port: Number(m[2]) };
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
    .description("run an emulated Espruino board with the hwtotp firmware on 127.0.0.1 (use it with --device tcp://127.0.0.1:PORT)")
    .option("--listen <addr>", "device link address 127.0.0.1:PORT (default: a free port)")
    .option("--control <addr>", "control channel address 127.0.0.1:PORT, JSON lines (default: a free port)")
    .option("--state <file>", "keep the board's flash (slots) in this file across runs (mode 0600)")
    .option("--board <board>", "pico, puckjs, bangle2, original or linux", "pico")
    .option("--clock <unix>", "RTC at power-up, Unix seconds (default: the host's time; 0 = a board that lost its RTC)")
    .option("--drift-ppm <n>", "RTC drift in ppm (positive: runs fast)")
    .option("--fresh", "a board without the firmware: Espruino REPL (flash it with hwtotp flash --port tcp://…)")
    .option("--pty [path]", "also expose the link as a pty through socat (if installed)")
    .option("--auto-press", "confirm every press the firmware asks for (delete, PIN changes, jumps, touch codes), as a user at the board would")
    .option("--json", "print the addresses as one JSON document")
    .action(async (opts: EmulateOptions) => {
      const listen = hostPort(opts.listen, "listen");
      const control = hostPort(opts.control, "control");
      const { createEmulator } = await import("../../../../firmware/emulator/index.ts");
      const emu = createEmulator({
        board: opts.board,
        stateFile: opts.state,
        clock: num(opts.clock, "clock") ?? Date.now() / 1000,
        driftPpm: num(opts.driftPpm, "drift-ppm"),
        flashed: opts.fresh ? false : undefined,
        autoPress: opts.autoPress === true,
        log: (l) => process.stderr.write("emulator: " + l + "\n"),
      });
      await emu.start();
      const dev = await emu.listen(listen);
      const ctl = await emu.listenControl(control);
      const pty = opts.pty ? await emu.pty(typeof opts.pty === "string" ? opts.pty : undefined) : null;
      const info = {
        board: emu.board.name,
        device: "tcp://" + dev.host + ":" + dev.port,
        control: "tcp://" + ctl.host + ":" + ctl.port,
        pty: pty ? pty.path : null,
        mode: emu.control.mode(),
      };
      if (opts.json) process.stdout.write(JSON.stringify(info) + "\n");
      else {
        process.stdout.write("Emulated " + emu.board.envBoard + " (" + info.mode + ") listening on " + info.device + "\n");
        process.stdout.write("Control channel (JSON lines) on " + info.control + "\n");
        if (opts.pty) process.stdout.write(pty ? "Pty: " + pty.path + "\n" : "No pty: socat is not installed.\n");
        if (!opts.autoPress) process.stdout.write('Button presses (delete, PIN changes, jumps): {"cmd":"pressButton","args":[100]} on the control channel (2500 ms for a long one), or run with --auto-press\n');
        process.stdout.write("Try: hwtotp --device " + info.device + " info   (Ctrl-C stops the emulator)\n");
      }
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await emu.stop();
    });
}
