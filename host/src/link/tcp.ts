// Stream-socket Link: Unix sockets (the emulator, the daemon) and TCP (an emulator asked for TCP, socat bridges).
import net from "node:net";
import { DeviceNotFoundError, type HwtotpError } from "../errors.ts";
import { disconnectedError, type Link } from "./index.ts";

export class TcpLink implements Link {
  private sock: net.Socket | null = null;
  private dataCb: (chunk: string) => void = () => {};
  private closeCb: (err?: HwtotpError) => void = () => {};
  private closing = false;
  private ended = false;
  private connectOpts: net.NetConnectOpts;
  readonly address: string;

  constructor(host: string, port: number, address?: string) {
    this.connectOpts = { host, port };
    this.address = address ?? "tcp://" + host + ":" + port;
  }

  static unix(path: string, address?: string): TcpLink {
    const l = new TcpLink("", 0, address ?? "unix:" + path);
    l.connectOpts = { path };
    return l;
  }

  get isOpen(): boolean {
    return this.sock !== null && !this.ended;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(this.connectOpts);
      let connected = false;
      sock.setEncoding("utf8");
      sock.once("connect", () => {
        connected = true;
        if ("port" in this.connectOpts) sock.setNoDelay(true);
        this.sock = sock;
        resolve();
      });
      sock.on("data", (s: string) => this.dataCb(s));
      sock.on("error", (err: NodeJS.ErrnoException) => {
        if (!connected) {
          reject(new DeviceNotFoundError("Cannot connect to " + this.address + ": " + describeErrno(err) + "."));
        }
      });
      sock.on("close", () => {
        if (!connected) return;
        this.ended = true;
        const cb = this.closeCb;
        this.closeCb = () => {};
        cb(this.closing ? undefined : disconnectedError(this.address, "the other end closed it"));
      });
    });
  }

  write(data: string): Promise<void> {
    const sock = this.sock;
    if (!sock || this.ended) return Promise.reject(disconnectedError(this.address, "not open"));
    return new Promise((resolve, reject) => {
      sock.write(data, "utf8", (err) => (err ? reject(disconnectedError(this.address, err.message)) : resolve()));
    });
  }

  onData(cb: (chunk: string) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: HwtotpError) => void): void {
    this.closeCb = cb;
  }

  close(): Promise<void> {
    const sock = this.sock;
    if (!sock || this.ended) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) => {
      sock.once("close", () => resolve());
      sock.end();
      // A peer that never half-closes must not keep us waiting.
      setTimeout(() => sock.destroy(), 200).unref();
    });
  }
}

export function describeErrno(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ECONNREFUSED":
      return "nothing is listening there";
    case "ENOENT":
      return "no such socket";
    case "EACCES":
      return "permission denied";
    case "ETIMEDOUT":
      return "timed out";
    default:
      return err.code ? err.code : err.message;
  }
}
