// hwtotp s3 [--name SLOT] -- CMD…: runs an S3 client for one MFA-protected request with a fresh, never
// replayed pin ("SERIAL PIN"): aws s3api gets its MFA parameter, anything else $HWTOTP_MFA. Also the
// pin dispensing shared by `hwtotp code --mfa-header` and `hwtotp ceph`.
import type { Command } from "commander";
import type { CodeInfo } from "../../../../protocol/index.ts";
import { UsageError } from "../../errors.ts";
import type { Pin } from "../../integrations/ceph/pin-dispenser.ts";
import { addCommonOptions, type CommonOptions, output, say, withSession } from "../context.ts";

export interface MfaOptions extends CommonOptions {
  name?: string;
  serial?: string;
}

/** The slot to use (the one with a serial, when no --name is given) and the serial its slot records. */
export async function pickMfaSlot(opts: MfaOptions): Promise<{ name: string; serial?: string }> {
  const all = (await withSession(opts, (s) => s.list())).slots;
  if (opts.name !== undefined) {
    const slot = all.find((x) => x.name === opts.name);
    return { name: opts.name, serial: slot?.serial };
  }
  const slots = all.filter((x) => x.serial);
  if (slots.length === 1) return { name: slots[0].name, serial: slots[0].serial };
  if (slots.length === 0) throw new UsageError("No slot carries an MFA serial; enrol one with `hwtotp ceph enroll`, or give --name and --serial.");
  throw new UsageError("Several slots carry a serial; pick one with --name (" + slots.map((x) => x.name).join(", ") + ").");
}

/** A fresh pin for the slot (waits for an unused step); one short device session per read. */
export async function dispenseForCli(opts: MfaOptions): Promise<Pin> {
  const { dispensePin } = await import("../../integrations/ceph/pin-dispenser.ts");
  const slot = await pickMfaSlot(opts);
  const readCode = (n?: string): Promise<CodeInfo> =>
    withSession(opts, (s) => s.code(n ?? slot.name)).then((d) => ({ ...d.codes[0], serial: d.codes[0].serial ?? slot.serial }));
  return dispensePin({
    name: slot.name,
    serial: opts.serial,
    readCode,
    onWait: (sec, why) => say("Waiting " + sec + " s for the next step (" + why + ")."),
  });
}

/** `hwtotp code --mfa-header SLOT`: prints "SERIAL PIN" (stdout alone) for clients that set x-amz-mfa. */
export async function printMfaHeader(slot: string, opts: MfaOptions): Promise<void> {
  const pin = await dispenseForCli({ ...opts, name: slot });
  output(opts, { serial: pin.serial, pin: pin.pin, header: pin.header, step: pin.step, left: pin.left }, () => {
    say(pin.serial + ": " + Math.floor(pin.left) + " s left (step " + pin.step + "); this pin serves one request.");
    return pin.header;
  });
}

interface S3Options extends MfaOptions {
  env: string;
  mfaArg?: boolean;
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command("s3")
      .description("run an S3 client with a fresh MFA pin: aws s3api gets its MFA parameter, other commands $HWTOTP_MFA (\"SERIAL PIN\")")
      .argument("<command...>", "the S3 command and its arguments (put -- before it)")
      .option("-n, --name <slot>", "slot to use (default: the one slot with a serial)")
      .option("--serial <serial>", "MFA serial, for a slot that does not record one")
      .option("--env <VAR>", "environment variable that carries \"SERIAL PIN\"", "HWTOTP_MFA")
      .option("--mfa-arg", "give aws the pin as --mfa \"SERIAL PIN\" on its command line, where every local user can read it, instead of in a private copy of its --cli-input-json/--cli-input-yaml")
      .passThroughOptions(),
  ).action(async (argv: string[], opts: S3Options) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(opts.env)) throw new UsageError("--env must be a variable name.");
    const { planS3, isAws } = await import("../../integrations/ceph/s3-mfa.ts");
    const { runChild } = await import("../../exec.ts");
    // Refuse a bad command before a pin is spent on it.
    if (argv.length === 0 || isAws(argv[0])) planS3(argv, "CHECK 000000", { envVar: opts.env, mfaArg: opts.mfaArg, check: true });
    const pin = await dispenseForCli(opts);
    const plan = planS3(argv, pin.header, { envVar: opts.env, mfaArg: opts.mfaArg });
    say("MFA serial " + pin.serial + ", step " + pin.step + " (" + Math.floor(pin.left) + " s left).");
    try {
      process.exitCode = await runChild(plan.cmd, plan.args, plan.env);
    } finally {
      plan.cleanup();
      const { notePinUsed, defaultStateDir } = await import("../../integrations/ceph/pin-dispenser.ts");
      await notePinUsed(defaultStateDir(), pin);
    }
  });
}
