// How a pin reaches an S3 client (S3's `x-amz-mfa: SERIAL PIN`, which RGW requires to enable MFADelete,
// to change versioning on such a bucket, and for DELETE ?versionId= / DeleteObjects naming versions).
//
// - `aws s3api delete-object|delete-objects|put-bucket-versioning`: the CLI's MFA parameter, handed over in
//   a private `--cli-input-json file://…` (0600, in a 0700 dir, removed when the child exits) so the pin is
//   not on argv; with `--mfa-arg` (or when the command already uses --cli-input-json) as `--mfa "SERIAL PIN"`.
// - anything else (boto3 scripts, curl wrappers): the environment variable $HWTOTP_MFA = "SERIAL PIN".
//   s3cmd has no MFA option; use a boto3 script or aws for MFA-protected requests.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { UsageError } from "../../errors.ts";

export const MFA_ENV = "HWTOTP_MFA";
/** aws s3api operations that take --mfa. */
export const AWS_MFA_OPS = ["delete-object", "delete-objects", "put-bucket-versioning"];

export interface S3Plan {
  cmd: string;
  args: string[];
  env: { [k: string]: string };
  how: "aws-json" | "aws-arg" | "env";
  /** Removes the private input file, if any. Call after the child exits. */
  cleanup: () => void;
}

/** Finds `s3api OP` in an aws argv (global options may come first). */
function awsOperation(args: string[]): { service: string; op: string } | null {
  const i = args.indexOf("s3api");
  if (i < 0 || i + 1 >= args.length) return null;
  return { service: "s3api", op: args[i + 1] };
}

function hasOption(args: string[], name: string): boolean {
  return args.some((a) => a === name || a.startsWith(name + "="));
}

export function isAws(cmd: string): boolean {
  return /^aws(2|v2)?$/.test(basename(cmd));
}

/**
 * Plans the child command for one MFA-protected request. `header` is "SERIAL PIN".
 * Throws UsageError for an aws command that takes no MFA or that already carries --mfa.
 */
export function planS3(argv: string[], header: string, o: { envVar?: string; mfaArg?: boolean; tmp?: string } = {}): S3Plan {
  if (argv.length === 0) throw new UsageError("Give the S3 command after --, e.g. hwtotp s3 -- aws s3api delete-object --bucket B --key K --version-id V.");
  const [cmd, ...rest] = argv;
  const env = { [o.envVar ?? MFA_ENV]: header };
  const noop = () => {};
  if (!isAws(cmd)) return { cmd, args: rest, env, how: "env", cleanup: noop };
  const op = awsOperation(rest);
  if (!op || !AWS_MFA_OPS.includes(op.op)) {
    throw new UsageError("Only aws s3api " + AWS_MFA_OPS.join(", ") + " take MFA; run other aws commands directly.");
  }
  if (hasOption(rest, "--mfa")) throw new UsageError("Leave --mfa out: hwtotp s3 adds it with a fresh pin.");
  if (o.mfaArg || hasOption(rest, "--cli-input-json") || hasOption(rest, "--cli-input-yaml")) {
    return { cmd, args: [...rest, "--mfa", header], env, how: "aws-arg", cleanup: noop };
  }
  const dir = mkdtempSync(join(o.tmp ?? tmpdir(), "hwtotp-s3-"));
  const file = join(dir, "mfa.json");
  writeFileSync(file, JSON.stringify({ MFA: header }) + "\n", { mode: 0o600 });
  return {
    cmd,
    args: [...rest, "--cli-input-json", "file://" + file],
    env,
    how: "aws-json",
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
