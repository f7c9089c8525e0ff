// hwtotp's entry point: builds the commander program from commands/index.ts, runs it, and turns whatever
// was thrown into one sentence on stderr and a documented exit code (docs/cli.md, "Exit codes").
// Start-up cost matters (`hwtotp exec -- openstack …` runs before every openstack call): when argv names
// one command, only that command's module is loaded and registered; help, `help CMD`, an unknown word or
// anything unusual before the command loads them all (the one list: COMMANDS in commands/index.ts).
import { Command, CommanderError } from "commander";
import pkg from "../../../package.json" with { type: "json" };
import { EXIT, UsageError, reportError } from "./context.ts";
import { COMMANDS, allCommands, type Register } from "./commands/index.ts";

/** The command names, from the one list (commands/index.ts). */
export const LAZY_COMMANDS: ReadonlyArray<string> = Object.keys(COMMANDS);

/** The root options (see buildProgram): those taking a value, and flags. */
const ROOT_VALUE_OPTIONS = new Set(["-d", "--device", "--socket"]);
const ROOT_FLAGS = new Set(["--json", "--no-daemon"]);

/**
 * The command argv names when it can be told without commander (root options before it are skipped),
 * else null: then every command is registered and commander decides, as it always did.
 */
export function commandWord(args: string[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (ROOT_FLAGS.has(a)) continue;
    if (ROOT_VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (/^--(device|socket)=/.test(a)) continue;
    if (a.startsWith("-")) return null;
    return Object.prototype.hasOwnProperty.call(COMMANDS, a) ? a : null;
  }
  return null;
}

/**
 * How an unknown option is shown: `--name=VALUE` as `--name=…`, `-xVALUE` as `-x…` — the value may be a
 * secret (`--secre=JBSW…`). Longer words that are no option name at all are not shown either.
 */
export function redactFlag(flag: string): string {
  if (flag.startsWith("--")) {
    const eq = flag.indexOf("=");
    if (eq > 0) return flag.slice(0, eq) + "=…";
    // Shown when it reads as an option name: lower case, and short or hyphenated (a base32 or hex secret is
    // 16+ characters without a hyphen).
    return /^--[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(flag) && (flag.length <= 17 || flag.includes("-", 2)) ? flag : "--…";
  }
  return flag.length > 2 ? flag.slice(0, 2) + "…" : flag;
}

/** A word shown back only when it could be a command name: a secret is at least 16 characters. */
const SHOWABLE_WORD = /^[A-Za-z][A-Za-z0-9_-]{0,14}$/;

/**
 * Commander's parser errors, with no value of the command line in them: an unknown `--opt=VALUE` shows as
 * `--opt=…` (its "Did you mean" hint computed on the name), rejected values as '…', and an unknown
 * command only when it looks like a command word. Subcommands are made by createCommand, so they get this
 * too. Nothing is printed here: main() turns the CommanderError into a sentence (and a --json document).
 */
export class HwtotpCommand extends Command {
  createCommand(name?: string): Command {
    return new HwtotpCommand(name);
  }

  /** Commander's own (internal, stable since v8) hook for an unknown option: suggest on the name alone. */
  unknownOption(flag: string): void {
    const eq = flag.startsWith("--") ? flag.indexOf("=") : -1;
    this.shownFlag = { raw: eq > 0 ? flag.slice(0, eq) : flag, shown: redactFlag(flag) };
    (Command.prototype as unknown as { unknownOption(f: string): void }).unknownOption.call(this, this.shownFlag.raw);
  }

  private shownFlag: { raw: string; shown: string } | null = null;

  error(message: string, errorOptions?: { code?: string; exitCode?: number }): never {
    return super.error(redactMessage(message, errorOptions?.code, this.shownFlag), errorOptions);
  }
}

function redactMessage(message: string, code: string | undefined, flag: { raw: string; shown: string } | null): string {
  switch (code) {
    case "commander.unknownOption":
      return flag ? message.replace("'" + flag.raw + "'", () => "'" + flag.shown + "'") : message.replace(/'[^']*'/, "'…'");
    case "commander.unknownCommand":
      return message.replace(/'([^']*)'/, (m, w: string) => (SHOWABLE_WORD.test(w) ? m : "'…'"));
    case "commander.invalidArgument":
      return message
        .replace(/ argument '[^']*' is invalid/, " argument '…' is invalid")
        .replace(/ value '[^']*' (from env|is invalid)/, " value '…' $1");
    default:
      return message;
  }
}

/** One sentence of a commander error message: "error: unknown option '--x'\n(Did you mean --y?)" → "Unknown option '--x' (did you mean --y?)." */
function usageSentence(e: CommanderError): string {
  if (e.code === "commander.help") return "Give a command: `hwtotp --help` lists them.";
  let m = e.message
    .replace(/^error: /, "")
    .replace(/\n\(Did you mean (.*)\?\)$/, " (Did you mean $1?)")
    .replace(/\s*\n\s*/g, " ")
    .trim();
  m = m.charAt(0).toUpperCase() + m.slice(1);
  return /[.?!)]$/.test(m) ? m : m + ".";
}

/** The program with the given commands (default: every command of commands/index.ts). */
export async function buildProgram(registers?: Register[]): Promise<Command> {
  const program = new HwtotpCommand();
  program
    .name("hwtotp")
    .description("A TOTP hardware token on an Espruino board: provision slots, read codes, hand them to commands.")
    .version(pkg.version)
    .exitOverride()
    .configureOutput({ outputError: () => {} }) // main() prints the (redacted) sentence, and --json's document
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 error, 2 bad input, 3 no device, 4 firmware mismatch, 5 no such slot,\n6 refused " +
        "(exists/full), 7 clock, 8 touch, 9 PIN (wrong, or locked: `hwtotp unlock`), 10 Keystone,\n11 MFA not enforced, " +
        "12 Ceph, 13 refused by the daemon's policy; `exec` returns its command's code.",
    );
  // The common options also work before the command (`hwtotp --device tcp://… info`); a value given
  // after the command wins.
  program
    .option("-d, --device <address>", "device: serial path, unix:PATH (hwtotp emulate) or tcp://HOST:PORT")
    .option("--json", "print one JSON document on stdout")
    .option("--socket <path>", "daemon socket")
    .option("--no-daemon", "talk to the device directly even when the daemon runs");
  program.hook("preAction", (root, action) => {
    actionCommand = action;
    if (action === root) return;
    for (const key of ["device", "json", "socket", "daemon"]) {
      if (root.getOptionValueSource(key) !== "cli") continue;
      if (action.getOptionValueSource(key) === "cli") continue;
      action.setOptionValue(key, root.getOptionValue(key));
    }
  });
  for (const register of registers ?? (await allCommands())) register(program);
  return program;
}

/** The command whose action runs (set once parsing succeeded): its --json decides how errors print. */
let actionCommand: Command | null = null;

/** Runs the CLI; resolves with the exit code (exec sets its child's). */
export async function main(argv: string[] = process.argv): Promise<number> {
  // `hwtotp code | head -c0`: a reader that went away is not an error worth a stack trace.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  const args = argv.slice(2);
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    process.stdout.write(pkg.version + "\n"); // what commander prints, without building the program
    return EXIT.OK;
  }
  actionCommand = null;
  try {
    const word = commandWord(args);
    const program = await buildProgram(word === null ? undefined : [(await COMMANDS[word]()).register]);
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError && e.exitCode === 0) return EXIT.OK; // --help, --version
    // After parsing, the command's own --json (the root's is copied in); a parser error stops before
    // options are read, so then the command line says (up to `--`: what follows is exec's command's).
    const dd = argv.indexOf("--");
    const act = actionCommand as Command | null; // set by the preAction hook, which TS does not see
    const json = act ? act.opts().json === true : (dd < 0 ? argv : argv.slice(0, dd)).includes("--json");
    return reportError(e instanceof CommanderError ? new UsageError(usageSentence(e)) : e, json);
  }
}
