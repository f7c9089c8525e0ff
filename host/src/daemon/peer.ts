// Who is at the other end of a daemon connection, as the kernel says: SO_PEERCRED (socket(7): the pid, uid
// and gid of the process that called connect) and SO_PEERGROUPS (its supplementary groups, Linux 4.13), and
// the executable from /proc/PID/exe. Never what the client says about itself.
// Node has no getsockopt: the accepted sockets are handed (fd inheritance, child_process stdio) to a
// short-lived perl (Debian's perl-base is Essential) that reads both options for a whole batch of
// connections; the socket constants are read once from perl's Socket module at start.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import type net from "node:net";
import { HwtotpError } from "../errors.ts";

export interface Peer {
  pid: number;
  uid: number;
  gid: number;
  /** Supplementary groups at connect time (SO_PEERGROUPS); null when the kernel or arch gave none. */
  groups: number[] | null;
  /** /proc/PID/exe, or null when it cannot be read (another uid's process and a daemon that is not root). */
  exe: string | null;
}

/** Connections whose credentials one helper reads at once (one fd each). */
export const PEER_BATCH_MAX = 64;
/** Helpers running at once: while one runs, the connections that arrive gather for the next. */
export const PEER_HELPERS_MAX = 1;

// Reads, for each fd named on its command line, "FD PID,UID,GID GROUP,GROUP…" ("-" for what it cannot read).
// SO_PEERGROUPS' buffer: perl's getsockopt reads up to 256 bytes (64 groups); more is ERANGE, then "-".
const SCRIPT =
  "my ($l, $c, $g) = splice(@ARGV, 0, 3); $| = 1;" +
  'for my $fd (@ARGV) { my $h; my $o = open($h, "<&=", $fd); my $p = $o ? getsockopt($h, $l, $c) : undef;' +
  " my $q = ($o && $g) ? getsockopt($h, $l, $g) : undef;" +
  ' print $fd, " ", (defined $p && length($p) >= 12 ? join(",", unpack("iII", $p)) : "-"), " ",' +
  ' (defined $q ? (length($q) ? join(",", unpack("I*", $q)) : "none") : "-"), "\\n"; }';

interface Waiter {
  sock: net.Socket;
  resolve: (p: Peer) => void;
  reject: (e: Error) => void;
}

export class PeerReader {
  private constants: [number, number, number] | null = null;
  private waiting: Waiter[] = [];
  private running = 0;
  private soon: NodeJS.Immediate | null = null;

  constructor(readonly perl = "/usr/bin/perl") {}

  /** Reads the socket constants once; throws a sentence when the helper cannot run here. */
  init(): void {
    if (this.constants) return;
    const r = spawnSync(this.perl, ["-MSocket", "-e", 'print SOL_SOCKET, " ", SO_PEERCRED, "\\n"'], { encoding: "utf8" });
    const m = /^(\d+) (\d+)\n$/.exec(r.stdout ?? "");
    if (r.error || r.status !== 0 || !m) {
      throw new HwtotpError(
        "The daemon reads its callers' identity from the kernel (SO_PEERCRED) through " +
          this.perl +
          ", which " +
          (r.error ? "is not there" : "failed") +
          ": install perl (Debian: perl-base).",
      );
    }
    const sol = Number(m[1]);
    // SO_PEERGROUPS is 59 where SOL_SOCKET is 1 (asm-generic: x86, arm, arm64, riscv, powerpc, s390); other
    // arches number it otherwise, and there the groups come from the caller's /proc status instead.
    this.constants = [sol, Number(m[2]), sol === 1 ? 59 : 0];
  }

  /** The peer of an accepted Unix socket connection. */
  read(sock: net.Socket): Promise<Peer> {
    this.init();
    return new Promise((resolve, reject) => {
      this.waiting.push({ sock, resolve, reject });
      // Connections accepted in the same turn of the event loop share one helper: spawning blocks the loop
      // for the fork and exec, so a helper per connection would serialise a burst of clients.
      if (!this.soon)
        this.soon = setImmediate(() => {
          this.soon = null;
          this.pump();
        });
    });
  }

  private pump(): void {
    while (this.running < PEER_HELPERS_MAX && this.waiting.length) {
      const batch = this.waiting.splice(0, PEER_BATCH_MAX);
      this.running++;
      this.runBatch(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private runBatch(batch: Waiter[]): Promise<void> {
    const [sol, cred, groups] = this.constants!;
    const live = batch.filter((w) => !w.sock.destroyed);
    for (const w of batch) if (w.sock.destroyed) w.reject(new HwtotpError("The caller hung up."));
    if (!live.length) return Promise.resolve();
    const fds = live.map((_, i) => 3 + i);
    return new Promise<void>((done) => {
      let out = "";
      let child;
      try {
        child = spawn(this.perl, ["-e", SCRIPT, String(sol), String(cred), String(groups), ...fds.map(String)], {
          stdio: ["ignore", "pipe", "ignore", ...live.map((w) => w.sock)],
        });
      } catch (e) {
        for (const w of live) w.reject(new HwtotpError("Could not read the caller's credentials: " + (e as Error).message + "."));
        done();
        return;
      }
      child.stdout!.setEncoding("utf8").on("data", (s: string) => (out += s));
      child.on("error", (e) => {
        for (const w of live) w.reject(new HwtotpError("Could not read the caller's credentials: " + e.message + "."));
        done();
      });
      child.on("close", () => {
        const lines = new Map<number, string[]>();
        for (const l of out.split("\n")) {
          const f = l.split(" ");
          if (f.length === 3) lines.set(Number(f[0]), f);
        }
        live.forEach((w, i) => {
          const f = lines.get(fds[i]);
          const ids = f && f[1] !== "-" ? f[1].split(",").map(Number) : null;
          if (!ids || ids.length !== 3 || ids.some((x) => !Number.isInteger(x))) {
            w.reject(new HwtotpError("The kernel gave no credentials for this connection."));
            return;
          }
          const [pid, uid, gid] = ids;
          const groups = f![2] === "-" ? procGroups(pid, uid) : f![2] === "none" ? [] : f![2].split(",").map(Number);
          w.resolve({ pid, uid, gid, groups, exe: procExe(pid, uid) });
        });
        done();
      });
    });
  }
}

/** The uid lines of /proc/PID/status name `uid` (real or effective): the pid is still that caller's. */
function stillTheirs(status: string, uid: number): boolean {
  const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  return !!m && (Number(m[1]) === uid || Number(m[2]) === uid);
}

function procExe(pid: number, uid: number): string | null {
  try {
    if (!stillTheirs(fs.readFileSync("/proc/" + pid + "/status", "utf8"), uid)) return null;
    return fs.readlinkSync("/proc/" + pid + "/exe");
  } catch {
    return null; // gone, or another uid's process and we are not root (ptrace access mode)
  }
}

function procGroups(pid: number, uid: number): number[] | null {
  try {
    const st = fs.readFileSync("/proc/" + pid + "/status", "utf8");
    if (!stillTheirs(st, uid)) return null;
    const m = /^Groups:\s*([\d ]*)$/m.exec(st);
    return m ? m[1].trim().split(/\s+/).filter(Boolean).map(Number) : null;
  } catch {
    return null;
  }
}
