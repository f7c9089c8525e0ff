// Serial Link over the `serialport` package: raw mode (its default on POSIX), the board's baud rate, an
// exclusive lock so two programs never interleave frames on one board. Works on USB CDC and on ptys.
import { stat } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { DeviceNotFoundError, type HwtotpError } from "../errors.ts";
import { disconnectedError, type Link } from "./index.ts";

type Port = import("serialport").SerialPort;

export class SerialLink implements Link {
  private port: Port | null = null;
  private dataCb: (chunk: string) => void = () => {};
  private closeCb: (err?: HwtotpError) => void = () => {};
  private closing = false;
  private ended = false;
  private decoder = new StringDecoder("utf8");
  private watchdog: NodeJS.Timeout | null = null;

  constructor(
    readonly path: string,
    readonly baudRate: number,
    readonly address: string = path,
  ) {}

  get isOpen(): boolean {
    return this.port !== null && !this.ended;
  }

  async open(): Promise<void> {
    const { SerialPort } = await import("serialport");
    const port = new SerialPort({ path: this.path, baudRate: this.baudRate, autoOpen: false, lock: true, hupcl: false });
    await new Promise<void>((resolve, reject) => {
      port.open((err) => {
        if (!err) return resolve();
        const msg = String(err.message || err);
        let why = msg.replace(/^Error:\s*/, "");
        if (/lock|busy|EAGAIN|EWOULDBLOCK/i.test(msg)) {
          why = "another program has it open (is `hwtotp daemon` running? then leave out --device)";
        } else if (/ENOENT|No such file/i.test(msg)) why = "no such device";
        else if (/EACCES|Permission/i.test(msg)) why = "permission denied (are you in the dialout group?)";
        reject(new DeviceNotFoundError("Cannot open " + this.address + ": " + why + "."));
      });
    });
    this.port = port;
    port.on("data", (b: Buffer) => {
      const s = this.decoder.write(b);
      if (s) this.dataCb(s);
    });
    port.on("close", (err: (Error & { disconnected?: boolean }) | null) => {
      this.end(this.closing && !err ? undefined : disconnectedError(this.address, err?.disconnected ? "unplugged" : "port closed"));
    });
    port.on("error", () => {
      /* close follows */
    });
    // serialport does not always notice a hang-up (seen on a pty whose other end was killed: no "close" at
    // all), but the device node goes away on unplug: check for it, so a pending request fails at once.
    this.watchdog = setInterval(() => {
      stat(this.path, (err) => {
        if (err?.code === "ENOENT" && !this.ended) {
          this.end(disconnectedError(this.address, "unplugged"));
          port.close(() => {});
        }
      });
    }, 250);
    this.watchdog.unref();
  }

  /** Marks the link ended and tells the session once, whichever of close, error or the watchdog came first. */
  private end(err?: HwtotpError): void {
    this.ended = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    const cb = this.closeCb;
    this.closeCb = () => {};
    cb(err);
  }

  write(data: string): Promise<void> {
    const port = this.port;
    if (!port || this.ended) return Promise.reject(disconnectedError(this.address, "not open"));
    return new Promise((resolve, reject) => {
      port.write(data, "utf8", (err) => {
        if (err) return reject(disconnectedError(this.address, err.message));
        port.drain((e) => (e ? reject(disconnectedError(this.address, e.message)) : resolve()));
      });
    });
  }

  onData(cb: (chunk: string) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: HwtotpError) => void): void {
    this.closeCb = cb;
  }

  close(): Promise<void> {
    const port = this.port;
    if (!port || this.ended) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) => port.close(() => resolve()));
  }
}
