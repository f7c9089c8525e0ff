// Where the daemon listens, and how a client reaches it. The daemon speaks the device protocol itself
// (one JSON frame per line, same ops and replies), after one introduction line naming the client.
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

/** An open link to the daemon, or null when none listens at `socketPath`. */
export async function connectDaemon(socketPath: string): Promise<Link | null> {
  const link = TcpLink.unix(socketPath);
  try {
    await link.open();
  } catch {
    return null;
  }
  await link.write(introLine());
  return link;
}
