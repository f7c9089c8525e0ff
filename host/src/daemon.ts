// The daemon: owns the device, serves clients on a Unix socket (0600) with the device protocol itself,
// one request at a time to the device (a request waiting for a press lets the next ones through, so the
// device answers them, or E_BUSY when they need a press too), relays press notices to the client whose
// request it is, reconnects when the device goes away (answering E_NODEVICE meanwhile), and logs each code
// request and each change (time, op, slot, client pid/uid — never a code, a seed or a PIN).
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import {
  ERR,
  MAX_REQUEST_LINE,
  OPS,
  createLineReader,
  encodeError,
  encodeOk,
  encodePress,
  parseRequest,
  type PressData,
} from "../../protocol/index.ts";
import { DeviceError, DeviceNotFoundError, HwtotpError } from "./errors.ts";
import { Session } from "./session.ts";
import { type ClientIntro, unsafePath } from "./daemon-client.ts";

export interface DaemonOptions {
  socketPath: string;
  /** Device address; undefined = discover the one attached board at each (re)connect. */
  device?: string;
  /** Log sink, one line per call (default: stderr). */
  log?: (line: string) => void;
  /** Delay between reconnect attempts while the device is away, ms. */
  retryMs?: number;
  /** Called after each (re)connect with the new session, before clients use it (e.g. a clock sync). */
  onConnect?: (s: Session) => Promise<void>;
}

interface Client {
  id: number;
  pid: number | null;
  uid: number | null;
  /** The claimed pid was checked against /proc (alive, owned by the claimed uid). */
  verified: boolean;
}

export class Daemon {
  private server: net.Server | null = null;
  private session: Session | null = null;
  private connecting: Promise<Session> | null = null;
  private lastError = "not connected yet";
  private queue: Promise<unknown> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private clients = new Set<net.Socket>();
  private nextClient = 1;
  /** The request that waits for a press on the device (at most one does), to name it in another's E_BUSY. */
  private waiting: { client: number; what: string } | null = null;
  readonly log: (line: string) => void;

  constructor(readonly opts: DaemonOptions) {
    this.log = opts.log ?? ((l) => process.stderr.write(l + "\n"));
  }

  get connected(): boolean {
    return this.session !== null;
  }

  async start(): Promise<void> {
    const sock = this.opts.socketPath;
    const dir = path.dirname(sock);
    if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const bad = unsafePath(dir, "folder");
    if (bad) throw new HwtotpError("Will not put the daemon socket there: " + bad + ". Use --socket in a folder of your own.");
    if (fs.existsSync(sock)) {
      const alive = await new Promise<boolean>((resolve) => {
        const c = net.connect(sock);
        c.once("connect", () => (c.destroy(), resolve(true)));
        c.once("error", () => resolve(false));
      });
      if (alive) throw new HwtotpError("Another daemon already listens on " + sock + ".");
      fs.unlinkSync(sock);
    }
    const server = net.createServer((c) => this.serve(c));
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(sock, () => resolve());
      });
    } finally {
      process.umask(old);
    }
    fs.chmodSync(sock, 0o600);
    this.server = server;
    this.log(stamp() + " listening on " + sock + " (mode 0600)");
    this.ensureSession().catch(() => this.scheduleRetry());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const c of this.clients) c.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      fs.unlinkSync(this.opts.socketPath);
    } catch {
      /* already gone */
    }
    const s = this.session;
    this.session = null;
    if (s) await s.close();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer || this.session) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.ensureSession().catch(() => this.scheduleRetry());
    }, this.opts.retryMs ?? 1000);
    this.retryTimer.unref();
  }

  private ensureSession(): Promise<Session> {
    if (this.session) return Promise.resolve(this.session);
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      try {
        const address = this.opts.device ?? (await (await import("./link/discover.ts")).discoverDevice());
        const { createLink } = await import("./link/index.ts");
        const link = await createLink(address);
        const s = await Session.connect(link);
        link.onClose((err) => {
          if (this.session === s) this.dropSession(err?.message ?? "closed");
        });
        if (this.opts.onConnect) await this.opts.onConnect(s);
        this.session = s;
        this.lastError = "";
        this.log(stamp() + " device " + address + " connected: firmware " + s.info?.fw + ", board " + s.info?.board);
        return s;
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (msg !== this.lastError) this.log(stamp() + " no device: " + msg);
        this.lastError = msg;
        throw e;
      } finally {
        this.connecting = null;
      }
    })();
    return this.connecting;
  }

  private dropSession(why: string): void {
    const s = this.session;
    this.session = null;
    if (s) {
      this.log(stamp() + " device lost: " + why);
      this.lastError = why;
      s.close().catch(() => {});
    }
    this.scheduleRetry();
  }

  private serve(sock: net.Socket): void {
    const client: Client = { id: this.nextClient++, pid: null, uid: null, verified: false };
    this.clients.add(sock);
    sock.setEncoding("utf8");
    sock.on("close", () => this.clients.delete(sock));
    sock.on("error", () => {});
    const send = (line: string) => {
      if (!sock.destroyed) sock.write(line);
    };
    const reader = createLineReader(
      MAX_REQUEST_LINE,
      (line) => {
        if (client.pid === null && line.startsWith('{"client"')) return this.introduce(client, line);
        const p = parseRequest(line);
        if (!p.ok) return send(encodeError(p.id, p.e, p.m));
        const req = p.req;
        this.enqueue(client, req.op, req.a, (press) => send(encodePress(req.id, press))).then(
          (d) => send(encodeOk(req.id, d)),
          (e: unknown) => {
            const err = e instanceof HwtotpError ? e : new HwtotpError(String(e));
            send(encodeError(req.id, err.code, err.message, err instanceof DeviceError ? err.data : undefined));
          },
        );
      },
      () => send(encodeError(null, ERR.FRAME, "Frame longer than " + MAX_REQUEST_LINE + " characters.")),
    );
    sock.on("data", (s: string) => reader.push(s));
  }

  private introduce(client: Client, line: string): void {
    try {
      const intro = JSON.parse(line) as ClientIntro;
      if (Number.isInteger(intro.pid)) client.pid = intro.pid;
      if (Number.isInteger(intro.uid)) client.uid = intro.uid;
      client.verified = verifyPid(client.pid, client.uid);
    } catch {
      /* an unreadable introduction leaves the client anonymous */
    }
  }

  /** Runs fn with the device inside the request queue (the clock keeper's periodic sync, host/src/clock/keeper.ts). */
  withDevice<T>(fn: (s: Session) => Promise<T>): Promise<T> {
    const run = async () => fn(await this.ensureSession());
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  /**
   * Serialises device access: one request at a time, in arrival order. A request the device holds for a
   * press gives up its turn once the device said so (its notice), so the others are not queued behind a
   * wait of up to 15 s: the device answers them, or says E_BUSY to those needing a press too.
   */
  private enqueue(client: Client, op: string, a: { [k: string]: unknown }, relay: (p: PressData) => void): Promise<{ [k: string]: unknown }> {
    let release: () => void = () => {};
    const turn = new Promise<void>((r) => (release = r));
    const run = async () => {
      let s: Session;
      try {
        s = await this.ensureSession();
      } catch {
        this.scheduleRetry();
        throw new DeviceNotFoundError("The daemon has no device right now (" + this.lastError.replace(/\.$/, "") + ").");
      }
      let waited = false;
      const onPress = (press: PressData) => {
        waited = true;
        this.waiting = { client: client.id, what: press.what };
        this.logOp(client, "press", "for=" + JSON.stringify(press.what) + (press.long ? " long" : ""));
        relay(press);
        release();
      };
      try {
        const d = await s.request<{ [k: string]: unknown }>(op, a, { onPress });
        this.logResult(client, op, a, "ok");
        return d;
      } catch (e) {
        let err = e instanceof HwtotpError ? e : new HwtotpError(String(e));
        this.logResult(client, op, a, err.code);
        if (err.code === "E_BUSY" && this.waiting && this.waiting.client !== client.id) {
          err = new DeviceError("E_BUSY", "Busy: the token waits for a press to confirm " + this.waiting.what + " for another request; press its button only if you asked for that, then try again.");
        }
        if (err.disconnected || err.code === "E_TIMEOUT") this.dropSession(err.message);
        throw err;
      } finally {
        if (waited && this.waiting?.client === client.id) this.waiting = null;
      }
    };
    const p = this.queue.then(run, run);
    p.then(release, release);
    this.queue = turn;
    return p;
  }

  /** One log line per code request and per change; the arguments of unlock and pin (PINs) never appear. */
  private logResult(client: Client, op: string, a: { [k: string]: unknown }, result: string): void {
    if (op === OPS.CODE) this.logOp(client, "code", "slot=" + (a.name === undefined ? "*" : JSON.stringify(a.name)), result);
    else if (op === OPS.ADD || op === OPS.DELETE) this.logOp(client, op, "slot=" + JSON.stringify(a.name), result);
    else if (op === OPS.PIN) this.logOp(client, "pin", "action=" + pinAction(a), result);
    else if (op === OPS.WIPE || op === OPS.UNLOCK || op === OPS.LOCK) this.logOp(client, op, "", result);
    else if (op === OPS.SET_TIME && a.force === true) this.logOp(client, "settime", "force", result);
  }

  private logOp(client: Client, op: string, what: string, result?: string): void {
    this.log(
      stamp() + " " + op + (what ? " " + what : "") +
        " pid=" + (client.pid ?? "?") + " uid=" + (client.uid ?? "?") + (client.verified ? "" : " (unverified)") +
        " client=" + client.id + (result === undefined ? "" : " result=" + result),
    );
  }
}

/** Which kind of pin op, from which arguments are present (never their values). */
function pinAction(a: { [k: string]: unknown }): string {
  if (a.pin === undefined) return "set";
  if (a.next !== undefined) return "change";
  return a.idle !== undefined ? "idle" : "clear";
}

function stamp(): string {
  return new Date().toISOString();
}

/** The socket is 0600, so only its owner (and root) connect; still check the claimed pid is alive and theirs. */
function verifyPid(pid: number | null, uid: number | null): boolean {
  if (pid === null || uid === null) return false;
  try {
    const status = fs.readFileSync("/proc/" + pid + "/status", "utf8");
    const m = /^Uid:\s+(\d+)/m.exec(status);
    return !!m && Number(m[1]) === uid;
  } catch {
    return false;
  }
}
