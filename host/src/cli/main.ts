// hwtotp's entry point: builds the commander program from commands/index.ts, runs it, and turns whatever
// was thrown into one sentence on stderr and a documented exit code (README.md, "Exit codes").
import { Command, CommanderError } from "commander";
import pkg from "../../../package.json" with { type: "json" };
import { commands } from "./commands/index.ts";
import { EXIT, reportError } from "./context.ts";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("hwtotp")
    .description("A TOTP hardware token on an Espruino board: provision slots, read codes, hand them to commands.")
    .version(pkg.version)
    .exitOverride()
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .addHelpText("after", "\nExit codes: 0 ok, 1 error, 2 bad input, 3 no device, 4 firmware mismatch, 5 no such slot,\n6 refused (exists/full), 7 clock, 8 touch, 9 PIN; `exec` returns its command's code.");
  // The common options also work before the command (`hwtotp --device tcp://… info`); a value given
  // after the command wins.
  program
    .option("-d, --device <address>", "device: serial path or tcp://HOST:PORT")
    .option("--json", "print one JSON document on stdout")
    .option("--socket <path>", "daemon socket")
    .option("--no-daemon", "talk to the device directly even when the daemon runs");
  program.hook("preAction", (root, action) => {
    if (action === root) return;
    for (const key of ["device", "json", "socket", "daemon"]) {
      if (root.getOptionValueSource(key) !== "cli") continue;
      if (action.getOptionValueSource(key) === "cli") continue;
      action.setOptionValue(key, root.getOptionValue(key));
    }
  });
  for (const register of commands) register(program);
  return program;
}

/** Runs the CLI; resolves with the exit code (exec sets its child's). */
export async function main(argv: string[] = process.argv): Promise<number> {
  // `hwtotp code | head -c0`: a reader that went away is not an error worth a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    const dd = argv.indexOf("--");
    const json = (dd < 0 ? argv : argv.slice(0, dd)).includes("--json");
    return reportError(e, json);
  }
}
