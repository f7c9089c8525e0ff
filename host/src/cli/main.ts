// hwtotp's entry point: builds the commander program from commands/index.ts, runs it, and turns whatever
// was thrown into one sentence on stderr and a documented exit code (README.md, "Exit codes").
// Start-up cost matters (`hwtotp exec -- openstack …` runs before every openstack call): when argv names
// one command, only that command's module is loaded and registered (LAZY below); help, `help CMD`, an
// unknown word or anything unusual before the command loads them all (commands/index.ts).
import { Command, CommanderError } from "commander";
import pkg from "../../../package.json" with { type: "json" };
import { EXIT, reportError } from "./context.ts";

type Register = (program: Command) => void;

/**
 * Commands whose module registers exactly that one top-level command (test/host/cli-lazy.test.ts checks
 * it). A command missing here still works: it is found through the full list in commands/index.ts.
 */
const LAZY: { [name: string]: () => Promise<{ register: Register }> } = {
  devices: () => import("./commands/devices.ts"),
  info: () => import("./commands/info.ts"),
  list: () => import("./commands/list.ts"),
  add: () => import("./commands/add.ts"),
  code: () => import("./commands/code.ts"),
  delete: () => import("./commands/delete.ts"),
  time: () => import("./commands/time.ts"),
  "resync-codes": () => import("./commands/resync-codes.ts"),
  exec: () => import("./commands/exec.ts"),
  daemon: () => import("./commands/daemon.ts"),
  demo: () => import("./commands/demo.ts"),
  keystone: () => import("./commands/keystone.ts"),
  ceph: () => import("./commands/ceph.ts"),
  s3: () => import("./commands/s3.ts"),
  emulate: () => import("./commands/emulate.ts"),
  flash: () => import("./commands/flash.ts"),
};
export const LAZY_COMMANDS: ReadonlyArray<string> = Object.keys(LAZY);

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
    return Object.prototype.hasOwnProperty.call(LAZY, a) ? a : null;
  }
  return null;
}

/** The program with the given commands (default: every command of commands/index.ts). */
export async function buildProgram(registers?: Register[]): Promise<Command> {
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
  for (const register of registers ?? (await import("./commands/index.ts")).commands) register(program);
  return program;
}

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
  try {
    const word = commandWord(args);
    const program = await buildProgram(word === null ? undefined : [(await LAZY[word]()).register]);
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    const dd = argv.indexOf("--");
    const json = (dd < 0 ? argv : argv.slice(0, dd)).includes("--json");
    return reportError(e, json);
  }
}
