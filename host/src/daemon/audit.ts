// The daemon's audit log: one entry per request (and per press wait and refused connection) with the kernel's
// pid/uid/gid and the caller's executable, the op, the slot and the result code — never a code, a seed or a
// PIN. Human lines on stderr by default; JSON lines in a 0600 file with --audit FILE (`hwtotp audit` reads it).
import fs from "node:fs";
import { HwtotpError } from "../errors.ts";

export interface AuditEntry {
  /** ISO 8601 time. */
  t: string;
  /** request | press | refused | closed */
  ev: "request" | "press" | "refused" | "closed";
  client: number;
  pid: number | null;
  uid: number | null;
  gid: number | null;
  exe: string | null;
  op?: string;
  /** a.name; "*" for code of every slot. */
  slot?: string;
  /** Which pin op (set, change, clear, idle), from which arguments are present (never their values). */
  action?: string;
  force?: boolean;
  /** What a press confirms (press entries). */
  what?: string;
  result?: string;
  /** Time from the request to its reply, ms. */
  ms?: number;
  /** Why a connection was refused or closed. */
  why?: string;
}

export interface AuditSink {
  write(e: AuditEntry): void;
  /** Opens the file again (after a rotation: SIGHUP). */
  reopen(): void;
  close(): void;
}

/** The human form of an entry (stderr, `hwtotp audit` without --json). */
export function formatEntry(e: AuditEntry): string {
  const parts = [e.t, e.ev === "request" ? (e.op ?? "?") : e.ev];
  if (e.ev === "press") parts.push("for=" + JSON.stringify(e.what ?? ""));
  if (e.ev !== "request" && e.op) parts.push("op=" + e.op);
  if (e.slot !== undefined) parts.push("slot=" + (e.slot === "*" ? "*" : JSON.stringify(e.slot)));
  if (e.action) parts.push("action=" + e.action);
  if (e.force) parts.push("force");
  parts.push(
    "pid=" + (e.pid ?? "?"),
    "uid=" + (e.uid ?? "?"),
    "gid=" + (e.gid ?? "?"),
    "exe=" + (e.exe === null ? "?" : JSON.stringify(e.exe)),
  );
  parts.push("client=" + e.client);
  if (e.result !== undefined) parts.push("result=" + e.result);
  if (e.why) parts.push("why=" + JSON.stringify(e.why));
  return parts.join(" ");
}

export function stderrSink(log: (line: string) => void): AuditSink {
  return { write: (e) => log(formatEntry(e)), reopen() {}, close() {} };
}

/**
 * Appends JSON lines to `file`, created 0600. The last path component is opened with O_NOFOLLOW (a planted
 * symlink is refused, never followed); an existing file must be a regular file of ours that nobody else can
 * read or write.
 */
export function fileSink(file: string): AuditSink {
  let fd = openAudit(file);
  return {
    write(e) {
      fs.writeSync(fd, JSON.stringify(e) + "\n");
    },
    reopen() {
      const next = openAudit(file);
      fs.closeSync(fd);
      fd = next;
    },
    close() {
      fs.closeSync(fd);
    },
  };
}

function openAudit(file: string): number {
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new HwtotpError("Refusing the audit log " + file + ": it is a symbolic link.");
    throw new HwtotpError("Cannot open the audit log " + file + " (" + (code ?? "error") + ").");
  }
  const st = fs.fstatSync(fd);
  const uid = process.getuid?.() ?? 0;
  const why = !st.isFile()
    ? "it is not a regular file"
    : st.uid !== uid
      ? "it belongs to uid " + st.uid
      : st.mode & 0o077
        ? "others may read or write it (mode " + (st.mode & 0o777).toString(8) + ")"
        : "";
  if (why) {
    fs.closeSync(fd);
    throw new HwtotpError("Refusing the audit log " + file + ": " + why + ".");
  }
  return fd;
}

/**
 * The entries of an audit file at or after `since` (ms since the epoch; null: all), and how many lines were
 * not entries (a torn last line, another file).
 */
export function readAudit(text: string, since: number | null): { entries: AuditEntry[]; skipped: number } {
  const entries: AuditEntry[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (!line) continue;
    let e: AuditEntry;
    try {
      e = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    const t = typeof e?.t === "string" ? Date.parse(e.t) : NaN;
    if (!Number.isFinite(t)) {
      skipped++;
      continue;
    }
    if (since === null || t >= since) entries.push(e);
  }
  return { entries, skipped };
}

/** --since: an ISO date or time, Unix seconds, or an age (90s, 15m, 2h, 7d). Null when unreadable. */
export function parseSince(s: string, now = Date.now()): number | null {
  const age = /^(\d+(?:\.\d+)?)([smhd])$/.exec(s);
  if (age) return now - Number(age[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[age[2] as "s"];
  if (/^\d{9,11}(\.\d+)?$/.test(s)) return Number(s) * 1000;
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : null;
}
