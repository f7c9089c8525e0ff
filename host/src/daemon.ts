// The daemon: owns the device and serves clients on a Unix socket with the device protocol itself. Each
// caller is who the kernel says (daemon/peer.ts: SO_PEERCRED, /proc/PID/exe), each request is decided by the
// policy (daemon/policy.ts; default: the daemon's own uid may do everything, nobody else anything) and
// written to the audit log (daemon/audit.ts; never a code, a seed or a PIN).
// Fair service: one request in flight per client, clients served in turn (round robin) one device request at
// a time; a request the device holds for a press gives up the device once the device said so, so others'
// requests are answered meanwhile (one needing a press too gets E_BUSY from the device). Connections, queued
// requests per client and idle time are capped (DAEMON_LIMITS); a refusal names its limit (E_LIMIT).
// The daemon relays press notices to the client whose request it is, reconnects when the device goes away
// (answering E_NODEVICE meanwhile), and lets the clock keeper use the device between requests.
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import {
  DAEMON_ERR,
  ERR,
  MAX_REQUEST_LINE,
  OPS,
  type Request,
  createLineReader,
  encodeError,
  encodeOk,
  encodePress,
  parseRequest,
  type PressData,
} from "../../protocol/index.ts";
import { DeviceError, DeviceNotFoundError, HwtotpError } from "./errors.ts";
import { Session } from "./session.ts";
import { unsafePath } from "./daemon-client.ts";
import { type AuditEntry, type AuditSink, fileSink, stderrSink } from "./daemon/audit.ts";
import { type Peer, PeerReader } from "./daemon/peer.ts";
import { type Policy, decide, defaultPolicy, describePolicy, loadPolicy, writableByOthers } from "./daemon/policy.ts";

/** The daemon's caps. A refusal names the one it hit. */
export const DAEMON_LIMITS = {
  /** Connections open at once, all callers together. */
  MAX_CONNECTIONS: 256,
  /** Connections open at once from one uid (so that one caller cannot take them all from the others). */
  MAX_CONNECTIONS_PER_UID: 128,
  /** Requests one connection may have waiting behind its one request in flight. */
  MAX_QUEUED_PER_CLIENT: 8,
  /** A connection with nothing in flight and no traffic for this long is closed, ms. */
  IDLE_TIMEOUT_MS: 120000,
};
export type DaemonLimits = typeof DAEMON_LIMITS;

export interface DaemonOptions {
  socketPath: string;
  /** Device address; undefined = discover the one attached board at each (re)connect. */
  device?: string;
  /** Log sink for the daemon's own lines (and the audit entries without auditFile), one line per call (default: stderr). */
  log?: (line: string) => void;
  /** Delay between reconnect attempts while the device is away, ms. */
  retryMs?: number;
  /** Called after each (re)connect with the new session, before clients use it (e.g. a clock sync). */
  onConnect?: (s: Session) => Promise<void>;
  /** Policy file (YAML); default: the daemon's own uid may do everything, nobody else anything. */
  policyFile?: string;
  /** Audit log file (JSON lines, 0600); default: the audit entries go to `log`. */
  auditFile?: string;
  /** Lower caps for tests; each defaults to DAEMON_LIMITS. */
  limits?: Partial<DaemonLimits>;
}

interface Job {
  req: Request;
  /** When it arrived, for the audit entry's ms. */
  at: number;
}

interface Client {
  id: number;
  sock: net.Socket;
  peer: Peer | null;
  /** Set when the kernel's credentials could not be read: every request is then denied with this. */
  peerError: string | null;
  queue: Job[];
  inFlight: Job | null;
  /** Refused at connect (a connection cap): its requests get E_LIMIT with this sentence. */
  refused: string | null;
  /** The first line may be an old client's introduction; it is read and ignored. */
  lines: number;
}

export class Daemon {
  private server: net.Server | null = null;
  private session: Session | null = null;
  private connecting: Promise<Session> | null = null;
  private lastError = "not connected yet";
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private clients = new Set<Client>();
  private nextClient = 1;
  /** Clients with a request queued and none in flight, served in turn. */
  private ready: Client[] = [];
  /** Clock keeper jobs, served before the next client. */
  private internal: Array<() => void> = [];
  /** A request holds the device (sent, and neither answered nor waiting for a press). */
  private turnHeld = false;
  /** The request that waits for a press on the device (at most one does), to name it in another's E_BUSY. */
  private waiting: { client: number; uid: number | null; what: string } | null = null;
  private peers = new PeerReader();
  private audit: AuditSink;
  private groupApplied = false;
  policy: Policy;
  readonly limits: DaemonLimits;
  readonly uid = process.getuid?.() ?? 0;
  readonly log: (line: string) => void;

  constructor(readonly opts: DaemonOptions) {
    this.log = opts.log ?? ((l) => process.stderr.write(l + "\n"));
    this.limits = { ...DAEMON_LIMITS, ...opts.limits };
    this.policy = defaultPolicy(this.uid);
    this.audit = stderrSink((l) => this.log(l));
  }

  get connected(): boolean {
    return this.session !== null;
  }

  async start(): Promise<void> {
    const sock = this.opts.socketPath;
    const dir = path.dirname(sock);
    this.peers.init();
    if (this.opts.policyFile) this.policy = loadPolicy(this.opts.policyFile, this.uid);
    if (this.opts.auditFile) this.audit = fileSink(this.opts.auditFile);
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
    this.server = server;
    try {
      this.applySocketAccess(this.policy);
    } catch (e) {
      await this.stop();
      throw e;
    }
    const mode = this.policy.socketGroup === null ? "mode 0600" : "mode 0660, group " + this.policy.socketGroupName;
    this.log(stamp() + " listening on " + sock + " (" + mode + ")");
    this.log(stamp() + " " + describePolicy(this.policy));
    this.ensureSession().catch(() => this.scheduleRetry());
  }

  /**
   * Reads the policy file again (SIGHUP) and reopens the audit log. A policy that is refused leaves the
   * previous one in force; the log says why. Returns whether the new one is in force.
   */
  reload(): boolean {
    if (this.opts.auditFile) {
      try {
        this.audit.reopen();
      } catch (e) {
        this.log(stamp() + " audit log not reopened: " + (e as Error).message);
      }
    }
    if (!this.opts.policyFile) return true;
    const prev = this.policy;
    try {
      const next = loadPolicy(this.opts.policyFile, this.uid);
      this.applySocketAccess(next);
      this.policy = next;
      this.log(stamp() + " reloaded " + describePolicy(next));
      return true;
    } catch (e) {
      try {
        this.applySocketAccess(prev);
      } catch {
        /* it was in force a moment ago */
      }
      this.log(stamp() + " policy refused, the previous one stays in force: " + (e as Error).message);
      return false;
    }
  }

  /**
   * The socket's mode: 0600 in its folder without a socket group; with one, the folder 0750 and the socket
   * 0660 with that group, in a folder that holds nothing else, that nobody but us (and root) can change, and
   * whose every parent the group can pass through and nobody can write (sticky ones aside).
   */
  private applySocketAccess(p: Policy): void {
    const sock = this.opts.socketPath;
    const dir = path.dirname(sock);
    if (p.socketGroup === null) {
      fs.chmodSync(sock, 0o600);
      if (this.groupApplied) fs.chmodSync(dir, 0o700);
      this.groupApplied = false;
      return;
    }
    const refuse = (why: string) => new HwtotpError("Refusing the policy " + p.file + ": " + why + ".");
    const others = fs.readdirSync(dir).filter((n) => n !== path.basename(sock));
    if (others.length)
      throw refuse(
        "the socket group needs a folder of its own for the socket, and " +
          dir +
          " holds " +
          others.length +
          " other entr" +
          (others.length === 1 ? "y" : "ies") +
          " (use --socket)",
      );
    const unsafe = writableByOthers(dir, this.uid, { groupToo: true });
    if (unsafe) throw refuse("others would reach the socket through " + unsafe);
    for (let up = path.dirname(dir); ; up = path.dirname(up)) {
      const st = fs.statSync(up);
      if (!(st.mode & 0o001) && !(st.mode & 0o010 && st.gid === p.socketGroup)) {
        throw refuse("group " + p.socketGroupName + " cannot reach the socket: " + up + " is mode " + (st.mode & 0o7777).toString(8));
      }
      if (path.dirname(up) === up) break;
    }
    try {
      fs.chownSync(dir, -1, p.socketGroup);
      fs.chownSync(sock, -1, p.socketGroup);
    } catch (e) {
      throw refuse(
        "cannot give the socket to group " +
          p.socketGroupName +
          " (" +
          ((e as NodeJS.ErrnoException).code ?? "error") +
          "; the daemon's user must be in it)",
      );
    }
    fs.chmodSync(dir, 0o750);
    fs.chmodSync(sock, 0o660);
    this.groupApplied = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const c of this.clients) c.sock.destroy();
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
    if (this.opts.auditFile) {
      try {
        this.audit.close();
      } catch {
        /* closed */
      }
    }
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

  private entry(c: Client, ev: AuditEntry["ev"], extra: Partial<AuditEntry>): void {
    const p = c.peer;
    const e: AuditEntry = {
      t: stamp(),
      ev,
      client: c.id,
      pid: p?.pid ?? null,
      uid: p?.uid ?? null,
      gid: p?.gid ?? null,
      exe: p?.exe ?? null,
      ...extra,
    };
    try {
      this.audit.write(e);
    } catch (err) {
      this.log(stamp() + " audit log write failed: " + (err as Error).message);
    }
  }

  private serve(sock: net.Socket): void {
    const c: Client = { id: this.nextClient++, sock, peer: null, peerError: null, queue: [], inFlight: null, refused: null, lines: 0 };
    const L = this.limits;
    const total = this.clients.size;
    this.clients.add(c);
    sock.setEncoding("utf8");
    sock.on("error", () => {});
    sock.on("close", () => this.dropClient(c));
    sock.setTimeout(L.IDLE_TIMEOUT_MS);
    sock.on("timeout", () => {
      if (c.inFlight || c.queue.length) return; // a press wait is not idleness; the reply re-arms the timer
      this.entry(c, "closed", { why: "idle for " + L.IDLE_TIMEOUT_MS / 1000 + " s (IDLE_TIMEOUT_MS)" });
      sock.end();
    });
    const reader = createLineReader(
      MAX_REQUEST_LINE,
      (line) => this.onLine(c, line),
      () => {
        this.entry(c, "request", { op: "?", result: ERR.FRAME, ms: 0 });
        this.reply(c, encodeError(null, ERR.FRAME, "Frame longer than " + MAX_REQUEST_LINE + " characters."));
      },
    );
    sock.on("data", (s: string) => reader.push(s));
    if (total >= L.MAX_CONNECTIONS) {
      this.refuseConnection(
        c,
        "Refused: the daemon serves at most " +
          L.MAX_CONNECTIONS +
          " connections at once (MAX_CONNECTIONS); try again when one has closed.",
      );
      return;
    }
    sock.pause();
    this.peers.read(sock).then(
      (peer) => {
        c.peer = peer;
        let mine = 0;
        for (const o of this.clients) if (o.peer?.uid === peer.uid && !o.refused) mine++;
        if (mine > L.MAX_CONNECTIONS_PER_UID) {
          this.refuseConnection(
            c,
            "Refused: the daemon serves at most " +
              L.MAX_CONNECTIONS_PER_UID +
              " connections of one uid at once (MAX_CONNECTIONS_PER_UID); try again when one has closed.",
          );
          return;
        }
        sock.resume();
      },
      (e: Error) => {
        c.peerError = "Denied: the daemon could not read who is calling from the kernel (" + e.message.replace(/\.$/, "") + ").";
        this.log(stamp() + " client " + c.id + ": " + c.peerError);
        sock.resume();
      },
    );
  }

  /** A connection over a cap: its first request gets E_LIMIT with the sentence (or, silent, a frame without id), then it is closed. */
  private refuseConnection(c: Client, sentence: string): void {
    c.refused = sentence;
    this.entry(c, "refused", { result: DAEMON_ERR.LIMIT, why: sentence });
    c.sock.resume();
    const t = setTimeout(() => c.sock.end(encodeError(null, DAEMON_ERR.LIMIT, sentence)), 1000);
    t.unref();
    c.sock.once("close", () => clearTimeout(t));
  }

  private dropClient(c: Client): void {
    this.clients.delete(c);
    const i = this.ready.indexOf(c);
    if (i >= 0) this.ready.splice(i, 1);
    for (const job of c.queue.splice(0)) this.requestEntry(c, job.req, "E_CLOSED", job.at);
  }

  private reply(c: Client, line: string): void {
    if (!c.sock.destroyed && c.sock.writable) c.sock.write(line);
  }

  private onLine(c: Client, line: string): void {
    c.lines++;
    if (c.refused) {
      const p = parseRequest(line);
      if (p.ok) this.requestEntry(c, p.req, DAEMON_ERR.LIMIT, Date.now());
      c.sock.end(encodeError(p.ok ? p.req.id : p.id, DAEMON_ERR.LIMIT, c.refused));
      return;
    }
    // An old client's introduction ({"client":"hwtotp","pid":…,"uid":…}): its claims are not read at all.
    if (c.lines === 1 && line.startsWith('{"client"')) return;
    const at = Date.now();
    const p = parseRequest(line);
    if (!p.ok) {
      this.entry(c, "request", { op: "?", result: p.e, ms: 0 });
      this.reply(c, encodeError(p.id, p.e, p.m));
      return;
    }
    const req = p.req;
    const denied = this.denial(c, req);
    if (denied) {
      this.requestEntry(c, req, DAEMON_ERR.DENIED, at);
      this.reply(c, encodeError(req.id, DAEMON_ERR.DENIED, denied));
      return;
    }
    // queued: all but the one in flight (or, while it waits for its turn, all but the first)
    if (c.queue.length - (c.inFlight ? 0 : 1) >= this.limits.MAX_QUEUED_PER_CLIENT) {
      this.requestEntry(c, req, DAEMON_ERR.LIMIT, at);
      const n = this.limits.MAX_QUEUED_PER_CLIENT;
      this.reply(
        c,
        encodeError(
          req.id,
          DAEMON_ERR.LIMIT,
          "Refused: this connection already has " +
            n +
            " request" +
            (n === 1 ? "" : "s") +
            " queued behind the one in flight (MAX_QUEUED_PER_CLIENT); wait for a reply first.",
        ),
      );
      return;
    }
    c.queue.push({ req, at });
    if (!c.inFlight && c.queue.length === 1) this.ready.push(c);
    this.pump();
  }

  /** Why the policy refuses this request of this caller (a sentence), or null. */
  private denial(c: Client, req: Request): string | null {
    if (c.peerError) return c.peerError;
    if (!c.peer) return "Denied: the daemon does not know who is calling.";
    const d = decide(this.policy, c.peer, req.op, typeof req.a.name === "string" ? req.a.name : undefined);
    return d.ok ? null : d.why;
  }

  /** Runs fn with the device between client requests (the clock keeper's periodic sync, host/src/clock/keeper.ts). */
  withDevice<T>(fn: (s: Session) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.internal.push(() => {
        this.turnHeld = true;
        (async () => fn(await this.ensureSession()))()
          .then(resolve, reject)
          .finally(() => {
            this.turnHeld = false;
            this.pump();
          });
      });
      this.pump();
    });
  }

  /** Starts the next request when the device is free: clock keeper jobs first, then the clients in turn. */
  private pump(): void {
    while (!this.turnHeld) {
      const job = this.internal.shift();
      if (job) {
        job();
        continue;
      }
      const c = this.ready.shift();
      if (!c) return;
      const next = c.queue.shift();
      if (!next || c.sock.destroyed) continue;
      c.inFlight = next;
      this.turnHeld = true;
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        this.turnHeld = false;
        this.pump();
      };
      this.run(c, next, release).finally(() => {
        c.inFlight = null;
        if (c.queue.length && !c.sock.destroyed) this.ready.push(c);
        release();
        this.pump();
      });
    }
  }

  private async run(c: Client, job: Job, release: () => void): Promise<void> {
    const { req } = job;
    // The policy may have changed (SIGHUP) while it waited.
    const denied = this.denial(c, req);
    if (denied) {
      this.requestEntry(c, req, DAEMON_ERR.DENIED, job.at);
      this.reply(c, encodeError(req.id, DAEMON_ERR.DENIED, denied));
      return;
    }
    let s: Session;
    try {
      s = await this.ensureSession();
    } catch {
      this.scheduleRetry();
      const err = new DeviceNotFoundError("The daemon has no device right now (" + this.lastError.replace(/\.$/, "") + ").");
      this.requestEntry(c, req, err.code, job.at);
      this.reply(c, encodeError(req.id, err.code, err.message));
      return;
    }
    let waited = false;
    const onPress = (press: PressData) => {
      waited = true;
      this.waiting = { client: c.id, uid: c.peer?.uid ?? null, what: press.what };
      this.entry(c, "press", { op: req.op, slot: slotOf(req), what: press.what });
      this.reply(c, encodePress(req.id, press));
      release();
    };
    try {
      const d = await s.request<{ [k: string]: unknown }>(req.op, req.a, { onPress });
      this.requestEntry(c, req, "ok", job.at);
      this.reply(c, encodeOk(req.id, this.fence(c, req, d)));
    } catch (e) {
      let err = e instanceof HwtotpError ? e : new HwtotpError(String(e));
      this.requestEntry(c, req, err.code, job.at);
      const w = this.waiting;
      if (err.code === ERR.BUSY && w && w.client !== c.id) {
        // Name what the press would confirm only to the same uid: another's slot names are not this caller's business.
        const what =
          w.uid !== null && w.uid === c.peer?.uid ? "confirm " + w.what + " for another request" : "confirm another user's request";
        err = new DeviceError(
          ERR.BUSY,
          "Busy: the token waits for a press to " + what + "; press its button only if you asked for that, then try again.",
        );
      }
      if (err.disconnected || err.code === "E_TIMEOUT") this.dropSession(err.message);
      this.reply(c, encodeError(req.id, err.code, err.message, err instanceof DeviceError ? err.data : undefined));
    } finally {
      if (waited && this.waiting?.client === c.id) this.waiting = null;
    }
  }

  /** list and code of every slot show a caller fenced to some slots only those. */
  private fence(c: Client, req: Request, d: { [k: string]: unknown }): { [k: string]: unknown } {
    if (!c.peer || (req.op !== OPS.LIST && !(req.op === OPS.CODE && req.a.name === undefined))) return d;
    const dec = decide(this.policy, c.peer, req.op, undefined);
    if (!dec.ok || dec.slots === "*") return d;
    const allowed = dec.slots;
    const key = req.op === OPS.LIST ? "slots" : "codes";
    const xs = d[key];
    return Array.isArray(xs)
      ? { ...d, [key]: xs.filter((x: { name?: unknown }) => typeof x?.name === "string" && allowed.has(x.name)) }
      : d;
  }

  /** The audit entry of one request: its op and slot, and for pin and settime which kind (never a value). */
  private requestEntry(c: Client, req: Request, result: string, at: number): void {
    const extra: Partial<AuditEntry> = { op: req.op, result, ms: Date.now() - at };
    const slot = slotOf(req);
    if (slot !== undefined) extra.slot = slot;
    if (req.op === OPS.PIN) extra.action = pinAction(req.a);
    if (req.op === OPS.SET_TIME && req.a.force === true) extra.force = true;
    this.entry(c, "request", extra);
  }
}

function slotOf(req: Request): string | undefined {
  if (typeof req.a.name === "string") return req.a.name;
  return req.op === OPS.CODE ? "*" : undefined;
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
