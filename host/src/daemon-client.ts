// Where the daemon listens, and how a client reaches it. The daemon speaks the device protocol itself (one
// JSON frame per line, same ops and replies) and learns who calls from the kernel, so a client says nothing
// about itself.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Link } from "./link/index.ts";
import { TcpLink } from "./link/tcp.ts";

/** The default place, without $HWTOTP_SOCKET: `$XDG_RUNTIME_DIR/hwtotp.sock`, else `$TMPDIR/hwtotp-UID/hwtotp.sock`. */
function implicitSocketPath(env: NodeJS.ProcessEnv): string {
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, "hwtotp.sock");
  return path.join(os.tmpdir(), "hwtotp-" + (process.getuid?.() ?? "user"), "hwtotp.sock");
}

/** `$HWTOTP_SOCKET`, else `$XDG_RUNTIME_DIR/hwtotp.sock`, else `$TMPDIR/hwtotp-UID/hwtotp.sock`. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.HWTOTP_SOCKET || implicitSocketPath(env);
}

/**
 * Why a socket (or the folder for one) must not be trusted, or null. Clients send seeds to the daemon
 * (`add`), so a socket someone else could have made — in a folder others can write, or owned by another
 * user — is refused. Root's are accepted. `owner`: the uid whose socket it may also be (another user's
 * daemon, named on purpose: see trustedSocket).
 */
export function unsafePath(p: string, kind: "socket" | "folder", owner?: number): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return null; // absent: nothing to trust yet
  }
  const uid = process.getuid?.() ?? 0;
  if (kind === "socket" && !st.isSocket()) return p + " is not a socket";
  if (kind === "folder" && !st.isDirectory()) return p + " is not a folder";
  if (st.uid !== uid && st.uid !== 0 && st.uid !== owner) return p + " belongs to another user (uid " + st.uid + ")";
  const shared = owner !== undefined && st.uid === owner && owner !== uid;
  if (kind === "folder" && st.mode & 0o022 && !(st.mode & 0o1000 && !shared)) return p + " can be written by others";
  if (kind === "socket" && st.mode & (shared ? 0o007 : 0o077)) return p + " is open to others (mode " + (st.mode & 0o777).toString(8) + ")";
  return null;
}

/**
 * Why the daemon socket at `p` must not be used, or null. Ours (or root's): 0600-like in a folder nobody
 * else can write. Another user's — a daemon that serves us through its socket group — only when the path
 * was named ($HWTOTP_SOCKET, --socket), never at the default places, and only in a folder of that user
 * that nobody else can write, with the socket open to no one beyond its group.
 */
export function trustedSocket(p: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = path.dirname(p);
  let owner: number | undefined;
  try {
    owner = fs.lstatSync(p).uid;
  } catch {
    owner = undefined;
  }
  const named = path.resolve(p) !== path.resolve(implicitSocketPath(env));
  const other = named ? owner : undefined;
  return unsafePath(p, "socket", other) ?? unsafePath(dir, "folder", other);
}

/** An open link to the daemon, or null when none listens at `socketPath` (or it is not safe to use). */
export async function connectDaemon(
  socketPath: string,
  warn: (s: string) => void = (s) => process.stderr.write(s + "\n"),
): Promise<Link | null> {
  const bad = trustedSocket(socketPath);
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
  return link;
}
