// Files only their owner may read (caches, state, clouds.yaml): written whole beside the destination, mode
// 0600, then renamed into place; and lock files that serialise hwtotp processes over such a file.
import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";

/**
 * Writes `data` to `file` atomically: a temporary file `<file>.<pid>.tmp` created mode 0600 (`flag` "wx"
 * refuses a leftover one), renamed over `file`; the temporary file is removed if the rename fails.
 */
export function writePrivateFile(file: string, data: string, flag: "w" | "wx" = "w"): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600, flag });
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
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
 * Holds the lock file `lock` (created exclusively, mode 0600, holding this pid) while fn runs. A lock whose
 * holder died, or older than `staleMs`, is broken; other holders are polled every `pollMs`.
 */
export async function withLockFile<T>(lock: string, o: LockFileOptions, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + o.waitMs;
  for (;;) {
    let fd: number | null = null;
    try {
      fd = openSync(lock, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if (fd !== null) closeSync(fd);
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (lockIsStale(lock, o.staleMs)) {
        rmSync(lock, { force: true });
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

/** Stale: older than staleMs, its pid no longer runs, or (after 5 s) it holds no pid at all. */
function lockIsStale(lock: string, staleMs: number): boolean {
  try {
    const pid = Number(readFileSync(lock, "utf8"));
    if (Date.now() - statSync(lock).mtimeMs > staleMs) return true;
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - statSync(lock).mtimeMs > 5000;
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH" || (e as NodeJS.ErrnoException).code === "ENOENT";
  }
}
