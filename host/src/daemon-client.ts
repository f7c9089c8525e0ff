// Where the daemon listens, and how a client reaches it. The daemon speaks the device protocol itself
// (one JSON frame per line, same ops and replies), after one introduction line naming the client.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Link } from "./link/index.ts";
import { TcpLink } from "./link/tcp.ts";

/** `$HWTOTP_SOCKET`, else `$XDG_RUNTIME_DIR/hwtotp.sock`, else `$TMPDIR/hwtotp-UID/hwtotp.sock`. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HWTOTP_SOCKET) return env.HWTOTP_SOCKET;
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, "hwtotp.sock");
  return path.join(os.tmpdir(), "hwtotp-" + (process.getuid?.() ?? "user"), "hwtotp.sock");
}

export interface ClientIntro {
  client: "hwtotp";
  pid: number;
  uid: number;
}

export function introLine(): string {
  const intro: ClientIntro = { client: "hwtotp", pid: process.pid, uid: process.getuid?.() ?? -1 };
  return JSON.stringify(intro) + "\n";
}

/**
 * Why a socket (or the folder for one) must not be trusted, or null. Clients send seeds to the daemon
 * (`add`), so a socket someone else could have made — in a folder others can write, or owned by another
 * user — is refused. Root's are accepted.
 */
export function unsafePath(p: string, kind: "socket" | "folder"): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return null; // absent: nothing to trust yet
  }
  const uid = process.getuid?.() ?? 0;
  if (kind === "socket" && !st.isSocket()) return p + " is not a socket";
  if (kind === "folder" && !st.isDirectory()) return p + " is not a folder";
  if (st.uid !== uid && st.uid !== 0) return p + " belongs to another user (uid " + st.uid + ")";
  if (kind === "folder" && st.mode & 0o022 && !(st.mode & 0o1000)) return p + " can be written by others";
  if (kind === "socket" && st.mode & 0o077) return p + " is open to others (mode " + (st.mode & 0o777).toString(8) + ")";
  return null;
}

/** An open link to the daemon, or null when none listens at `socketPath` (or it is not safe to use). */
export async function connectDaemon(socketPath: string, warn: (s: string) => void = (s) => process.stderr.write(s + "\n")): Promise<Link | null> {
  const bad = unsafePath(socketPath, "socket") ?? unsafePath(path.dirname(socketPath), "folder");
  if (bad) {
    warn("hwtotp: not using the daemon socket: " + bad + ".");
    return null;
  }
  const link = TcpLink.unix(socketPath);
  try {
    await link.open();
  } catch {
    return null;
  }
  await link.write(introLine());
  return link;
}
