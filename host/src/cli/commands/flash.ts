// hwtotp flash: a factory reset through the espruino CLI: erases Storage, writes firmware/dist/firmware.js as
// .bootcde first (then the .boot0 guard when the build made one), reboots, checks hello.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output } from "../context.ts";
import { UsageError } from "../../errors.ts";

interface FlashCliOptions extends CommonOptions {
  port?: string;
  board?: string;
  firmware?: string;
  expectVersion?: string;
  throttle?: boolean;
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command("flash")
      .description(
        "factory reset: erase the board's Storage (slots, PIN, clock), upload the firmware with the espruino CLI, " +
          "reboot it and check it answers",
      )
      .option("-p, --port <port>", "serial path or tcp://HOST:PORT (default: --device, $HWTOTP_DEVICE)")
      .option("-b, --board <board>", "pico, puckjs, bangle2, original or linux (selects the board JSON)", "pico")
      .option("--firmware <file>", "bundle to upload (default: firmware/dist/firmware.js)")
      .option("--expect-version <v>", "firmware version hello must report (default: this package's version)")
      .option("--throttle", "pause after each Storage write (default for serial ports)")
      .option("--no-throttle", "send Storage writes back to back (default for tcp://)"),
  ).action(async (opts: FlashCliOptions) => {
    const port = opts.port || opts.device || process.env.HWTOTP_DEVICE;
    if (!port) throw new UsageError("Name the board: --port /dev/ttyACM0 or --port tcp://127.0.0.1:PORT.");
    const { flashFirmware, FACTORY_RESET_NOTICE } = await import("../../flash.ts");
    process.stderr.write(FACTORY_RESET_NOTICE + "\nErasing and uploading with the espruino CLI to " + port + " …\n");
    const r = await flashFirmware({
      port,
      board: opts.board,
      firmwarePath: opts.firmware,
      expectVersion: opts.expectVersion,
      throttle: opts.throttle,
      log: (l) => process.stderr.write("  " + l + "\n"),
    });
    output(
      opts,
      { port, board: r.hello.board, fw: r.hello.fw, proto: r.hello.proto, bytes: r.bytes, uploadMs: r.uploadMs, files: r.files },
      () =>
        "Erased Storage and flashed " +
        r.bytes +
        " bytes (" +
        r.files.join(", ") +
        ") in " +
        (r.uploadMs / 1000).toFixed(1) +
        " s; " +
        r.hello.board +
        " answers with firmware " +
        r.hello.fw +
        " (protocol " +
        r.hello.proto +
        ").",
    );
  });
}
