// hwtotp demo: the whole flow on an in-process emulator (no hardware, no network). See host/src/demo.ts.
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("demo")
    .description("show the whole flow on an emulated token: enrol, QR, code, verify, exec")
    .option("--board <board>", "emulated board profile", "pico")
    .option("--no-qr", "skip the terminal QR code")
    .option("--json", "tell the story on stderr and print a summary as one JSON document on stdout")
    .action(async (opts: { board: string; qr: boolean; json?: boolean }) => {
      const { runDemo } = await import("../../demo.ts");
      process.exitCode = await runDemo(opts);
    });
}
