// hwtotp exec [--name NAME] -- CMD ARGS…: runs CMD with OS_PASSCODE set to a fresh code (never on argv,
// never printed), passing stdio and CMD's exit code through.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, deviceAccess, say, withSession } from "../context.ts";
import { DEFAULT_MIN_LEFT, freshCode, runChild } from "../../exec.ts";
import { UsageError } from "../../errors.ts";

export interface ExecOptions extends CommonOptions {
  name?: string;
  minLeft: string;
  env: string;
  tokenCache?: string | true;
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command("exec")
      .description("run a command with a passcode in its environment ($OS_PASSCODE), never on its command line")
      .argument("<command...>", "the command and its arguments (put -- before it)")
      .option("-n, --name <slot>", "slot to use (default: the only slot)")
      .option("--min-left <seconds>", "wait for the next step when fewer seconds are left", String(DEFAULT_MIN_LEFT))
      .option("--env <VAR>", "environment variable to put the code in", "OS_PASSCODE")
      .option(
        "--token-cache [cloud]",
        "Keystone: one login per token lifetime; CMD gets OS_TOKEN instead of a passcode (cloud: this, else CMD's " +
          "--os-cloud, else $OS_CLOUD)",
      )
      .passThroughOptions()
      .addHelpText(
        "after",
        '\nstdout is the command\'s own: --json prints no document on success, only the {"error": …} document\nwhen ' +
          "no passcode could be obtained (exit 2-9). The exit code is the command's.",
      ),
  ).action(async (argv: string[], opts: ExecOptions) => {
    const minLeft = Number(opts.minLeft);
    if (!(minLeft >= 0 && minLeft <= 60)) throw new UsageError("--min-left must be a number of seconds from 0 to 60.");
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(opts.env)) throw new UsageError("--env must be a variable name.");
    if (opts.tokenCache !== undefined) {
      const { execWithTokenCache } = await import("../../integrations/keystone/operations.ts");
      process.exitCode = await execWithTokenCache(argv, { name: opts.name, tokenCache: opts.tokenCache }, deviceAccess(opts), say);
      return;
    }
    const [cmd, ...args] = argv;
    // The device is released before the child runs: a long command must not hold it (or the daemon).
    // (a touch slot's wait is announced by the device itself: its press notice, printed by the session)
    const c = await withSession(opts, (s) =>
      freshCode(s, {
        name: opts.name,
        minLeft,
        onWait: (left) => say("Only " + Math.round(left) + " s left in this step; waiting for the next code."),
      }),
    );
    process.exitCode = await runChild(cmd, args, { [opts.env]: c.code as string });
  });
}
