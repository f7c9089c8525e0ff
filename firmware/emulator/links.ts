// The emulator's links to other processes: the device link (a serial port opened exclusively: one client at a time
// owns it, later ones wait), the control channel (JSON lines calling the control functions), on 127.0.0.1 TCP or
// on Unix sockets in a folder only this user may enter, and a pty bridged to a Unix-socket link through socat.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** Why `dir` is no place for the emulator's sockets (another user could enter it or swap a socket), or null. */
function unsafeFolder(dir: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    return "it does not exist";
  }
  if (st.isSymbolicLink()) return "it is a symlink";
  if (!st.isDirectory()) return "it is not a folder";
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) return "it belongs to another user";
  if ((st.mode & 0o077) !== 0) return "other users may enter it (chmod 700 it)";
  return null;
}

export class Links {
  private readonly sockets = new Set<net.Socket>();
  /** The device link's owner, and the clients waiting their turn (paused, their bytes held). */
  private active: net.Socket | null = null;
  private readonly waiting: net.Socket[] = [];
  private readonly servers: net.Server[] = [];
  private readonly children: ChildProcess[] = [];
  /** The 0700 folder made for the sockets and the pty link (removed on close), and the sockets bound. */
  private ownDir: string | null = null;
  private readonly boundPaths: string[] = [];

  /**
   * `input`: bytes the link's owner sends (latin1); `control`: the object whose functions the control channel
   * calls, by name, with the request's arguments.
   */
  constructor(
    private readonly input: (s: string) => void,
    private readonly control: object,
  ) {}

  /** Device output (latin1) to the link's owner. */
  send(s: string): void {
    if (this.active) this.active.write(Buffer.from(s, "latin1"));
  }

  listen(o?: { port?: number; host?: string }): Promise<{ host: string; port: number }> {
    return this.serve(o, (so) => this.onDeviceConn(so));
  }

  listenControl(o?: { port?: number; host?: string }): Promise<{ host: string; port: number }> {
    return this.serve(o, (so) => this.onControlConn(so));
  }

  listenUnix(p?: string): Promise<{ path: string }> {
    return this.serveUnix(p, "device.sock", (so) => this.onDeviceConn(so));
  }

  listenControlUnix(p?: string): Promise<{ path: string }> {
    return this.serveUnix(p, "control.sock", (so) => this.onControlConn(so));
  }

  /** A pty at `linkPath` (default: in the private folder) bridged to a new Unix device link; null without socat. */
  async pty(linkPath?: string): Promise<{ path: string } | null> {
    if (spawnSync("sh", ["-c", "command -v socat"]).status !== 0) return null;
    const p = linkPath ? path.resolve(linkPath) : path.join(this.privateDir(), "tty");
    // a link another user could swap would hand hwtotp their pty in place of this board
    const bad = unsafeFolder(path.dirname(p));
    if (bad) throw new Error("Will not put the emulator's pty link in " + path.dirname(p) + ": " + bad + ".");
    const link = await this.listenUnix(path.join(this.privateDir(), "pty-" + this.children.length + ".sock"));
    const child = spawn("socat", ["PTY,link=" + p + ",raw,echo=0", "UNIX-CONNECT:" + link.path], { detached: true, stdio: "ignore" });
    child.unref();
    this.children.push(child);
    for (let i = 0; i < 100 && !fs.existsSync(p); i++) await new Promise((r) => setTimeout(r, 20));
    if (!fs.existsSync(p)) throw new Error("socat did not create " + p);
    fs.chmodSync(fs.realpathSync(p), 0o600); // the pty itself: this user only, whatever the system's default
    return { path: p };
  }

  /** Stops the socat bridges, drops every client, closes the servers and removes the sockets and the folder. */
  async close(): Promise<void> {
    for (const c of this.children) {
      if (c.pid && c.exitCode === null) {
        try {
          process.kill(-c.pid, "SIGTERM");
        } catch (e) {
          /* gone */
        }
      }
    }
    for (const so of this.sockets) so.destroy();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(() => r(null)))));
    this.servers.length = 0;
    for (const p of this.boundPaths.splice(0)) fs.rmSync(p, { force: true });
    if (this.ownDir) fs.rmSync(this.ownDir, { recursive: true, force: true });
    this.ownDir = null;
  }

  private privateDir(): string {
    if (!this.ownDir) this.ownDir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-emu-")); // mkdtemp: mode 0700
    return this.ownDir;
  }

  private attach(): void {
    while (!this.active && this.waiting.length) {
      const so = this.waiting.shift()!;
      if (so.destroyed) continue;
      this.active = so;
      so.resume();
    }
  }

  private detach(so: net.Socket): void {
    this.sockets.delete(so);
    const i = this.waiting.indexOf(so);
    if (i >= 0) this.waiting.splice(i, 1);
    if (this.active === so) {
      this.active = null;
      this.attach();
    }
  }

  private serve(
    o: { port?: number; host?: string } | undefined,
    onConn: (so: net.Socket) => void,
  ): Promise<{ host: string; port: number }> {
    const host = (o && o.host) || "127.0.0.1";
    if (host !== "127.0.0.1" && host !== "localhost" && host !== "::1")
      return Promise.reject(new Error("The emulator listens on 127.0.0.1 only."));
    return new Promise((resolve, reject) => {
      const srv = net.createServer(onConn);
      srv.on("error", reject);
      srv.listen((o && o.port) || 0, host, () => {
        this.servers.push(srv);
        resolve({ host: host, port: (srv.address() as net.AddressInfo).port });
      });
    });
  }

  /** A Unix-socket server at `p` (default: NAME in the private folder), mode 0600, in a folder only this user enters. */
  private async serveUnix(p: string | undefined, name: string, onConn: (so: net.Socket) => void): Promise<{ path: string }> {
    const sock = p ? path.resolve(p) : path.join(this.privateDir(), name);
    if (!fs.existsSync(path.dirname(sock))) fs.mkdirSync(path.dirname(sock), { recursive: true, mode: 0o700 });
    const bad = unsafeFolder(path.dirname(sock));
    if (bad) throw new Error("Will not put the emulator's socket in " + path.dirname(sock) + ": " + bad + ".");
    let old: fs.Stats | null = null;
    try {
      old = fs.lstatSync(sock);
    } catch (e) {
      /* free */
    }
    if (old) {
      if (!old.isSocket()) throw new Error(sock + " exists and is not a socket; name another path.");
      const alive = await new Promise<boolean>((resolve) => {
        const c = net.connect(sock);
        c.once("connect", () => (c.destroy(), resolve(true)));
        c.once("error", () => resolve(false));
      });
      if (alive) throw new Error("Something already listens on " + sock + ".");
      fs.unlinkSync(sock);
    }
    const srv = net.createServer(onConn);
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      // bind(2) creates the socket file under the umask: none of it for others, from the first instant (a worker
      // thread cannot change the umask; the 0700 folder covers the moment until the chmod below)
      let mask: number | null = null;
      try {
        mask = process.umask(0o177);
      } catch (e) {
        /* worker thread */
      }
      try {
        srv.listen(sock, () => resolve());
      } finally {
        if (mask !== null) process.umask(mask);
      }
    });
    fs.chmodSync(sock, 0o600);
    this.servers.push(srv);
    this.boundPaths.push(sock);
    return { path: sock };
  }

  private onDeviceConn(so: net.Socket): void {
    if (so.remoteFamily) so.setNoDelay(true);
    this.sockets.add(so);
    so.pause();
    so.on("data", (b: Buffer) => {
      if (this.active === so) this.input(b.toString("latin1"));
    });
    so.on("close", () => this.detach(so));
    so.on("error", () => this.detach(so));
    this.waiting.push(so);
    this.attach();
  }

  private onControlConn(so: net.Socket): void {
    let buf = "";
    this.sockets.add(so);
    so.setEncoding("utf8");
    so.on("error", () => {});
    so.on("close", () => this.sockets.delete(so));
    so.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.substring(0, nl).trim();
        buf = buf.substring(nl + 1);
        if (!line) continue;
        let id: unknown = null;
        try {
          const req = JSON.parse(line);
          id = req.id;
          const fn = (this.control as any)[req.cmd];
          if (typeof fn !== "function") throw new Error("Unknown control command " + JSON.stringify(req.cmd));
          const result = fn.apply(this.control, Array.isArray(req.args) ? req.args : []);
          so.write(JSON.stringify({ id: id, ok: true, result: result === undefined ? null : result }) + "\n");
        } catch (e) {
          so.write(JSON.stringify({ id: id, ok: false, error: (e as Error).message }) + "\n");
        }
      }
    });
  }
}
