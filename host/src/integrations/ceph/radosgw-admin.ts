// `radosgw-admin mfa …` (Ceph RGW, Pacific and later): create, check, resync, list, remove a user's TOTP
// tokens. Behaviour and outputs as in docs/facts/ceph.md.
//
// Secrets and argv: radosgw-admin only takes the seed and pins as options (`--totp-seed`, `--totp-pin`).
// Every Ceph tool also reads options from the CEPH_ARGS environment variable (global_init's env_to_vec),
// so this wrapper passes them there: they never appear in /proc/PID/cmdline (world-readable), only in
// /proc/PID/environ (readable by the same user and root, who could read the token's state anyway).
// Where the command is printed for someone else to run, the same CEPH_ARGS form is printed.
import { execFile } from "node:child_process";
import { HwtotpError, UsageError } from "../../errors.ts";

export const RADOSGW_ADMIN = "radosgw-admin";

/** A serial RGW and S3's `x-amz-mfa: SERIAL PIN` can carry: no spaces (the header splits on one). */
const SERIAL_RE = /^[A-Za-z0-9._:@+=-]{1,32}$/;
const UID_RE = /^[A-Za-z0-9._@+=$:-]{1,64}$/;

export function checkSerial(serial: string): void {
  if (!SERIAL_RE.test(serial)) {
    throw new UsageError('A serial is 1 to 32 characters from A–Z a–z 0–9 . _ : @ + = - (no spaces: S3 sends it as "SERIAL PIN").');
  }
}

export function checkUid(uid: string): void {
  if (!UID_RE.test(uid))
    throw new UsageError("The RGW user id must be 1 to 64 characters without spaces or slashes (tenant$user is allowed).");
}

/** radosgw-admin failed; errno is RGW's (13 refused/replayed/throttled, 2 no such user or serial). */
export class RadosgwAdminError extends HwtotpError {
  readonly errno: number | null;
  readonly status: number;
  constructor(message: string, status: number, errno: number | null) {
    super(message);
    this.status = status;
    this.errno = errno;
    this.code = errno === 13 ? "E_MFA_REFUSED" : errno === 2 ? "E_MFA_NOENT" : "E_RADOSGW_ADMIN";
  }
}

export interface AdminOptions {
  /** Path to ceph.conf, passed as `-c` (else CEPH_CONF or /etc/ceph/ceph.conf as radosgw-admin decides). */
  conf?: string;
  /** The radosgw-admin binary (default: on PATH). */
  bin?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Extra arguments (e.g. `--rgw-zone=z`, `-n client.admin`), never secrets. */
  extraArgs?: string[];
}

export interface TotpEntry {
  serial: string;
  seedType: string;
  timeOfs: number;
  stepSize: number;
  window: number;
}

export interface CreateArgs {
  uid: string;
  serial: string;
  /** The seed as RGW will read it: lower-case hex or upper-case base32 (matching seedType). */
  seed: string;
  seedType: "hex" | "base32";
  seconds: number;
  window: number;
}

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** Appends secret options to the caller's CEPH_ARGS (which may hold e.g. `--id admin`). */
function withCephArgs(env: NodeJS.ProcessEnv, secretArgs: string[]): NodeJS.ProcessEnv {
  if (secretArgs.length === 0) return env;
  const prior = env.CEPH_ARGS ? env.CEPH_ARGS + " " : "";
  return { ...env, CEPH_ARGS: prior + secretArgs.join(" ") };
}

export class RadosgwAdmin {
  constructor(readonly opts: AdminOptions = {}) {}

  /** The argv a call would use (no secret is ever in it). */
  argv(args: string[]): string[] {
    return [...(this.opts.conf ? ["-c", this.opts.conf] : []), ...(this.opts.extraArgs ?? []), ...args];
  }

  private exec(args: string[], secretArgs: string[] = []): Promise<Result> {
    const env = withCephArgs(this.opts.env ?? process.env, secretArgs);
    const bin = this.opts.bin ?? RADOSGW_ADMIN;
    return new Promise((resolve, reject) => {
      const child = execFile(
        bin,
        this.argv(args),
        { env, timeout: this.opts.timeoutMs ?? 60000, maxBuffer: 4 << 20 },
        (err, stdout, stderr) => {
          if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
            reject(
              new HwtotpError(
                bin + " is not on PATH; install Debian's radosgw (or ceph-common) or run the printed command on a Ceph admin host.",
              ),
            );
            return;
          }
          if (err && (err as { killed?: boolean }).killed) {
            reject(
              new HwtotpError(
                bin +
                  " did not answer within " +
                  Math.round((this.opts.timeoutMs ?? 60000) / 1000) +
                  " s (is the cluster up? is --conf right?).",
              ),
            );
            return;
          }
          const status = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
          resolve({ status, stdout: String(stdout), stderr: String(stderr) });
        },
      );
      child.stdin?.end();
    });
  }

  private fail(what: string, r: Result): RadosgwAdminError {
    // e.g. "MFA check failed, error: (13) Permission denied" — never echoes a seed or a pin.
    const line = lastLine(r.stderr) || lastLine(r.stdout) || "no output";
    const m = /error:\s*\((\d+)\)/.exec(r.stderr);
    const errno = m ? Number(m[1]) : r.status === 13 || r.status === 2 ? r.status : null;
    return new RadosgwAdminError("radosgw-admin " + what + " failed (exit " + r.status + "): " + line, r.status, errno);
  }

  async create(a: CreateArgs): Promise<void> {
    checkUid(a.uid);
    checkSerial(a.serial);
    const r = await this.exec(createArgs(a), ["--totp-seed=" + a.seed]);
    if (r.status !== 0) throw this.fail("mfa create", r);
  }

  /** True when RGW answered `ok`; false when it refused the pin (wrong, replayed or throttled: errno 13). */
  async check(uid: string, serial: string, pin: string): Promise<boolean> {
    checkUid(uid);
    checkSerial(serial);
    const r = await this.exec(["mfa", "check", "--uid=" + uid, "--totp-serial=" + serial], ["--totp-pin=" + pin]);
    if (r.status === 0 && r.stdout.trim() === "ok") return true;
    const e = this.fail("mfa check", r);
    if (e.errno === 13) return false;
    throw e;
  }

  async resync(uid: string, serial: string, pin1: string, pin2: string): Promise<void> {
    checkUid(uid);
    checkSerial(serial);
    const r = await this.exec(["mfa", "resync", "--uid=" + uid, "--totp-serial=" + serial], ["--totp-pin=" + pin1, "--totp-pin=" + pin2]);
    if (r.status !== 0) throw this.fail("mfa resync", r);
  }

  async remove(uid: string, serial: string): Promise<void> {
    checkUid(uid);
    checkSerial(serial);
    const r = await this.exec(["mfa", "remove", "--uid=" + uid, "--totp-serial=" + serial]);
    if (r.status !== 0) throw this.fail("mfa remove", r);
  }

  /** The user's tokens, seeds dropped on parsing. A user without any gives []. */
  async list(uid: string): Promise<TotpEntry[]> {
    checkUid(uid);
    const r = await this.exec(["mfa", "list", "--uid=" + uid]);
    if (r.status !== 0) {
      const e = this.fail("mfa list", r);
      if (e.errno === 2) return [];
      throw e;
    }
    return parseMfaList(r.stdout);
  }

  /** One token (seed dropped), or null when the serial is unknown. */
  async get(uid: string, serial: string): Promise<TotpEntry | null> {
    checkUid(uid);
    checkSerial(serial);
    const r = await this.exec(["mfa", "get", "--uid=" + uid, "--totp-serial=" + serial]);
    if (r.status !== 0) {
      const e = this.fail("mfa get", r);
      if (e.errno === 2) return null;
      throw e;
    }
    const all = parseMfaList(r.stdout);
    return all.find((x) => x.serial === serial) ?? null;
  }
}

interface RawEntry {
  type?: number;
  id?: string;
  seed_type?: string;
  time_ofs?: number;
  step_size?: number;
  window?: number;
}

/**
 * Parses `mfa list` / `mfa get` output — `{"entries":[…]}`, `{"entry":{…}}`, or a bare entry/array — and
 * keeps everything but the seed.
 */
export function parseMfaList(stdout: string): TotpEntry[] {
  const text = stdout.trim();
  if (!text) return [];
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new HwtotpError("radosgw-admin printed something that is not JSON where a token list was expected.");
  }
  const raw: RawEntry[] = [];
  const visit = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(visit);
    else if (x && typeof x === "object") {
      const r = x as { [k: string]: unknown };
      if (typeof r.id === "string" && ("seed" in r || "step_size" in r)) raw.push(r as RawEntry);
      else for (const k of ["entry", "entries", "devices"]) if (k in r) visit(r[k]);
    }
  };
  visit(o);
  return raw.map((r) => ({
    serial: r.id as string,
    seedType: r.seed_type ?? "hex",
    timeOfs: Number(r.time_ofs ?? 0),
    stepSize: Number(r.step_size ?? 30),
    window: Number(r.window ?? 2),
  }));
}

/** Shell-quotes one word for a printed command (POSIX sh). */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9._:@+=,/-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
}

/**
 * The exact command for someone to run on a Ceph admin host: secrets in a CEPH_ARGS prefix, not argv.
 * A leading space keeps it out of bash history when HISTCONTROL has ignorespace (Debian's default).
 */
export function printableCommand(admin: RadosgwAdmin, args: string[], secretArgs: string[] = []): string {
  const prefix = secretArgs.length ? " CEPH_ARGS=" + shQuote(secretArgs.join(" ")) + " " : "";
  return prefix + [RADOSGW_ADMIN, ...admin.argv(args)].map(shQuote).join(" ");
}

export function createArgs(a: Omit<CreateArgs, "seed">): string[] {
  return [
    "mfa",
    "create",
    "--uid=" + a.uid,
    "--totp-serial=" + a.serial,
    "--totp-seed-type=" + a.seedType,
    "--totp-seconds=" + a.seconds,
    "--totp-window=" + a.window,
  ];
}

function lastLine(s: string): string {
  const lines = s
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "");
  return lines.length ? lines[lines.length - 1].trim().slice(0, 200) : "";
}
