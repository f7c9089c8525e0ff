// How a pin reaches an S3 client (S3's `x-amz-mfa: SERIAL PIN`, which RGW requires to enable MFADelete,
// to change versioning on such a bucket, and for DELETE ?versionId= / DeleteObjects naming versions).
//
// - `aws s3api delete-object|delete-objects|put-bucket-versioning`: the CLI's MFA parameter, handed over in
//   a private `--cli-input-json file://…` (0600, in a 0700 dir, removed when the child exits) so the pin is
//   not on argv. A command that brings its own --cli-input-json or --cli-input-yaml (inline or file://) gets
//   a private copy of that input with MFA merged in, in its place. Only `--mfa-arg` puts `--mfa "SERIAL PIN"`
//   on argv, where every local user can read it (ps, /proc/PID/cmdline).
// - anything else (boto3 scripts, curl wrappers): the environment variable $HWTOTP_MFA = "SERIAL PIN".
//   s3cmd has no MFA option; use a boto3 script or aws for MFA-protected requests.
import { closeSync, mkdtempSync, readFileSync, rmSync, writeSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { parseDocument, isMap } from "yaml";
import { UsageError } from "../../errors.ts";
import { createPrivateFile } from "../../private-file.ts";

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
export function planS3(
  argv: string[],
  header: string,
  o: { envVar?: string; mfaArg?: boolean; tmp?: string; check?: boolean } = {},
): S3Plan {
  if (argv.length === 0)
    throw new UsageError("Give the S3 command after --, e.g. hwtotp s3 -- aws s3api delete-object --bucket B --key K --version-id V.");
  const [cmd, ...rest] = argv;
  const env = { [o.envVar ?? MFA_ENV]: header };
  const noop = () => {};
  if (!isAws(cmd)) return { cmd, args: rest, env, how: "env", cleanup: noop };
  const op = awsOperation(rest);
  if (!op || !AWS_MFA_OPS.includes(op.op)) {
    throw new UsageError("Only aws s3api " + AWS_MFA_OPS.join(", ") + " take MFA; run other aws commands directly.");
  }
  if (hasOption(rest, "--mfa")) throw new UsageError("Leave --mfa out: hwtotp s3 adds it with a fresh pin.");
  if (o.mfaArg) return { cmd, args: [...rest, "--mfa", header], env, how: "aws-arg", cleanup: noop };
  const given = findInput(rest);
  // The user's own input, with MFA merged in (checked before a pin is spent on it), or MFA alone.
  const merged = given ? mergeInput(given, header) : { kind: "json" as const, text: JSON.stringify({ MFA: header }) + "\n" };
  if (o.check) return { cmd, args: rest, env, how: "aws-json", cleanup: noop };
  const dir = mkdtempSync(join(o.tmp ?? tmpdir(), "hwtotp-s3-")); // mode 0700, a name nobody can guess
  const file = join(dir, merged.kind === "json" ? "input.json" : "input.yaml");
  try {
    const fd = createPrivateFile(file);
    try {
      writeSync(fd, merged.text);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const opt = ["--cli-input-" + merged.kind, "file://" + file];
  const args = given ? [...rest.slice(0, given.index), ...opt, ...rest.slice(given.index + given.width)] : [...rest, ...opt];
  return { cmd, args, env, how: "aws-json", cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

interface GivenInput {
  kind: "json" | "yaml";
  value: string;
  /** Where the option starts in the argv and how many words it takes (1 for --opt=value, else 2). */
  index: number;
  width: number;
}

/** The command's own --cli-input-json / --cli-input-yaml, if any (at most one, given once). */
function findInput(args: string[]): GivenInput | null {
  const found: GivenInput[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--cli-input-(json|yaml)(=([\s\S]*))?$/.exec(args[i]);
    if (!m) continue;
    const kind = m[1] as "json" | "yaml";
    if (m[2] !== undefined) found.push({ kind, value: m[3], index: i, width: 1 });
    else if (i + 1 < args.length) found.push({ kind, value: args[i + 1], index: i++, width: 2 });
    else throw new UsageError("--cli-input-" + kind + " needs a value.");
  }
  if (found.length > 1) throw new UsageError("Give one --cli-input-json or --cli-input-yaml, not several.");
  return found[0] ?? null;
}

/** The text of an aws parameter value: file:// and fileb:// read the file (~ and $VAR expanded, as awscli's paramfile does). */
function inputText(g: GivenInput): string {
  const m = /^(file|fileb):\/\/([\s\S]*)$/.exec(g.value);
  if (/^https?:\/\//.test(g.value))
    throw new UsageError(
      "hwtotp s3 cannot add the MFA to a --cli-input-" + g.kind + " fetched from a URL; save it to a file and give file://PATH.",
    );
  if (!m) return g.value;
  let path = m[2].replace(/^~(?=$|\/)/, homedir());
  path = path.replace(/\$(\w+)|\$\{(\w+)\}/g, (all, a?: string, b?: string) => process.env[(a ?? b)!] ?? all);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(
      "Cannot read the --cli-input-" + g.kind + " file " + path + ": " + ((e as NodeJS.ErrnoException).code ?? (e as Error).message) + ".",
    );
  }
}

/** The user's input with MFA added: the same format, every other field as given. */
function mergeInput(g: GivenInput, header: string): { kind: "json" | "yaml"; text: string } {
  const text = inputText(g);
  const leave = "Leave MFA out of your --cli-input-" + g.kind + ": hwtotp s3 adds it with a fresh pin.";
  if (g.kind === "json") {
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      // not the parser's message: V8 quotes a piece of the input, and parser errors never echo a value
      throw new UsageError("The --cli-input-json is not valid JSON.");
    }
    if (!o || typeof o !== "object" || Array.isArray(o)) throw new UsageError("The --cli-input-json must be a JSON object.");
    if (Object.prototype.hasOwnProperty.call(o, "MFA")) throw new UsageError(leave);
    return { kind: "json", text: JSON.stringify({ ...(o as object), MFA: header }) + "\n" };
  }
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const at = doc.errors[0].linePos?.[0];
    throw new UsageError("The --cli-input-yaml is not valid YAML" + (at ? " (line " + at.line + ", column " + at.col + ")" : "") + ".");
  }
  if (!isMap(doc.contents)) throw new UsageError("The --cli-input-yaml must be a mapping.");
  if (doc.has("MFA")) throw new UsageError(leave);
  doc.set("MFA", header);
  return { kind: "yaml", text: doc.toString() };
}
