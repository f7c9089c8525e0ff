// hwtotp s3 [--name SLOT] -- CMD…: runs an S3 client for one MFA-protected request with a fresh, never
// replayed pin ("SERIAL PIN"): aws s3api gets its MFA parameter, anything else $HWTOTP_MFA. The pin comes
// from host/src/integrations/ceph/mfa.ts; the S3 hand-over from s3-mfa.ts.
import type { Command } from "commander";
import { UsageError } from "../../errors.ts";
import { addCommonOptions, type CommonOptions, deviceAccess, say } from "../context.ts";

interface S3Options extends CommonOptions {
  name?: string;
  serial?: string;
  env: string;
  mfaArg?: boolean;
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command("s3")
      .description('run an S3 client with a fresh MFA pin: aws s3api gets its MFA parameter, other commands $HWTOTP_MFA ("SERIAL PIN")')
      .argument("<command...>", "the S3 command and its arguments (put -- before it)")
      .option("-n, --name <slot>", "slot to use (default: the one slot with a serial)")
      .option("--serial <serial>", "MFA serial, for a slot that does not record one")
      .option("--env <VAR>", 'environment variable that carries "SERIAL PIN"', "HWTOTP_MFA")
      .option(
        "--mfa-arg",
        'give aws the pin as --mfa "SERIAL PIN" on its command line, where every local user can read it, instead of in a private copy of its --cli-input-json/--cli-input-yaml',
      )
      .passThroughOptions(),
  ).action(async (argv: string[], opts: S3Options) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(opts.env)) throw new UsageError("--env must be a variable name.");
    const { runS3 } = await import("../../integrations/ceph/mfa.ts");
    process.exitCode = await runS3(argv, deviceAccess(opts), {
      name: opts.name,
      serial: opts.serial,
      envVar: opts.env,
      mfaArg: opts.mfaArg,
      say,
    });
  });
}
