// Files only their owner may read (caches, state, clouds.yaml, the s3 input): written whole into a temporary
// file of a random name beside the destination, created O_EXCL|O_NOFOLLOW mode 0600, then renamed into place
// (rename replaces a symlink at the destination, it never writes through one); and lock files, created the
// same way, that serialise hwtotp processes over such a file.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** Create-only, never through a symlink: O_EXCL fails on any existing name, O_NOFOLLOW says so twice. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Creates `file` (which must not exist, not even as a symlink) mode 0600 and returns its descriptor.
 * Throws EEXIST for any existing name, including a dangling symlink.
 */
export function createPrivateFile(file: string): number {
  const fd = openSync(file, CREATE_FLAGS, 0o600);
  fchmodSync(fd, 0o600); // exactly 0600 whatever the umask
  return fd;
}

/** Writes all of `data` to `fd` and syncs it. */
function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  fsyncSync(fd);
}

/** A temporary name nobody can guess, beside `file` (same folder, so rename is atomic). */
export function privateTempName(file: string): string {
  return join(dirname(file), "." + basename(file) + "." + randomBytes(8).toString("hex") + ".tmp");
}

/**
 * Writes `data` to `file` atomically: a temporary file of a random name beside it, created exclusively
 * (O_EXCL|O_NOFOLLOW) mode 0600, renamed over `file`. A symlink at `file` is replaced, not followed; the
 * temporary file is removed if anything fails.
 */
export function writePrivateFile(file: string, data: string | Uint8Array): void {
  const tmp = privateTempName(file);
  const fd = createPrivateFile(tmp);
  try {
    try {
      writeAll(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Opens `file` for appending (an audit log, say), creating it mode 0600 if absent; never through a symlink
 * (O_NOFOLLOW), and only a regular file of this user that nobody else may read or write.
 */
export function openPrivateAppend(file: string): number {
  const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const st = fstatSync(fd);
  const why = !st.isFile()
    ? "it is not a regular file"
    : typeof process.getuid === "function" && st.uid !== process.getuid()
      ? "it belongs to another user"
      : (st.mode & 0o077) !== 0
        ? "others may read or write it (chmod 600 it)"
        : null;
  if (why) {
    closeSync(fd);
    throw Object.assign(new Error("Will not write to " + file + ": " + why + "."), { code: "EPRIVATE" });
  }
  return fd;
}

export interface LockFileOptions {
  /** How long to wait for another holder before `timeout()` is thrown. */
  waitMs: number;
  /** A lock older than this is broken even if its holder still runs. */
  staleMs: number;
  pollMs: number;
  timeout: () => Error;
  sleep?: (ms: number) => Promise<void>;
}

const sleepReal = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Holds the lock file `lock` (created exclusively, never through a symlink, mode 0600, holding this pid)
 * while fn runs. A lock whose holder died, or older than `staleMs`, or that is no regular file, is broken;
 * other holders are polled every `pollMs`.
 */
export async function withLockFile<T>(lock: string, o: LockFileOptions, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + o.waitMs;
  for (;;) {
    let fd: number | null = null;
    try {
      fd = createPrivateFile(lock);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if (fd !== null) closeSync(fd);
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (lockIsStale(lock, o.staleMs)) {
        rmSync(lock, { force: true }); // removes a symlink itself, never its target
        continue;
      }
      if (Date.now() > end) throw o.timeout();
      await (o.sleep ?? sleepReal)(o.pollMs);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Stale: no regular file, older than staleMs, its pid no longer runs, or (after 5 s) it holds no pid at all. */
function lockIsStale(lock: string, staleMs: number): boolean {
  try {
    const st = lstatSync(lock);
    if (!st.isFile()) return true;
    const age = Date.now() - st.mtimeMs;
    if (age > staleMs) return true;
    const fd = openSync(lock, constants.O_RDONLY | constants.O_NOFOLLOW);
    let pid: number;
    try {
      pid = Number(readFileSync(fd, "utf8"));
    } finally {
      closeSync(fd);
    }
    if (!Number.isInteger(pid) || pid <= 0) return age > 5000;
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH" || (e as NodeJS.ErrnoException).code === "ENOENT";
  }
}
