// Serial Link over the `serialport` package: raw mode (its default on POSIX), the board's baud rate, and
// the tty for this process alone, so two programs never interleave frames on one board: serialport's
// `lock` (flock LOCK_EX|LOCK_NB, which other flock users respect), then TIOCEXCL (tty_ioctl(4): any further
// open(2) of the tty fails with EBUSY, flock or not, except with CAP_SYS_ADMIN). Works on USB CDC and on ptys.
import { spawnSync } from "node:child_process";
import { stat } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { DeviceNotFoundError, type HwtotpError } from "../errors.ts";
import { disconnectedError, type Link } from "./index.ts";

type Port = import("serialport").SerialPort;

/**
 * TIOCEXCL / TIOCNXCL (asm-generic/ioctls.h 0x540C / 0x540D; their own numbers on mips and powerpc), null where
 * unknown.
 */
export function exclIoctl(which: "TIOCEXCL" | "TIOCNXCL", arch: string = process.arch): number | null {
  const off = which === "TIOCEXCL" ? 0 : 1;
  if (["x64", "ia32", "arm", "arm64", "riscv64", "s390x", "loong64"].includes(arch)) return 0x540c + off;
  if (arch === "mips" || arch === "mipsel") return 0x740d + off;
  if (arch === "ppc64" || arch === "ppc") return 0x2000740c + off;
  return null;
}

/**
 * Turns the exclusive mode of the tty open on `fd` on (TIOCEXCL) or off (TIOCNXCL). Node has no ioctl, so
 * perl (perl-base is part of every Debian system) does it on the descriptor it inherits: the mode belongs to
 * the tty, not to the descriptor. The descriptor goes in as fd 3, not stdin: libuv makes a child's fds 0-2
 * blocking, and O_NONBLOCK belongs to the open file we share, so serialport's next read would block for good
 * (and hold its flock past close). Returns why it could not, or null.
 */
export function setExclusive(fd: number, on: boolean): string | null {
  if (process.platform !== "linux") return "not Linux";
  const nr = exclIoctl(on ? "TIOCEXCL" : "TIOCNXCL");
  if (nr === null) return "TIOCEXCL unknown on " + process.arch;
  const script = "open(my $t, '+<&=', 3) or die qq{$!\\n}; ioctl($t, " + nr + ", 0) or die qq{$!\\n}";
  const r = spawnSync("perl", ["-e", script], { stdio: ["ignore", "ignore", "pipe", fd], timeout: 5000 });
  if (r.error) return "no perl (" + ((r.error as NodeJS.ErrnoException).code ?? r.error.message) + ")";
  if (r.status !== 0) return String(r.stderr).trim() || "perl exited " + r.status;
  return null;
}

export class SerialLink implements Link {
  private port: Port | null = null;
  private dataCb: (chunk: string) => void = () => {};
  private closeCb: (err?: HwtotpError) => void = () => {};
  private closing = false;
  private ended = false;
  private decoder = new StringDecoder("utf8");
  private watchdog: NodeJS.Timeout | null = null;
  /** Null when the tty is in exclusive mode (TIOCEXCL); else why not (the flock still holds). */
  exclusive: string | null = "not open";
  private fd: number | null = null;

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
          why = "another program has it open for itself (is `hwtotp daemon` running? then leave out --device)";
        } else if (/ENOENT|No such file/i.test(msg)) why = "no such device";
        else if (/EACCES|Permission/i.test(msg))
          why = "permission denied (install the udev rule that `hwtotp udev-rule` prints, then plug the board in again)";
        reject(new DeviceNotFoundError("Cannot open " + this.address + ": " + why + "."));
      });
    });
    // serialport's binding keeps the descriptor as `fd` (bindings-cpp LinuxPortBinding)
    const fd = (port.port as unknown as { fd?: unknown } | undefined)?.fd;
    // Only after the flock succeeded, so it never shuts out a program that held the port first.
    this.fd = typeof fd === "number" ? fd : null;
    this.exclusive = this.fd !== null ? setExclusive(this.fd, true) : "no descriptor";
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
    // Exclusive mode outlives this descriptor while another holds the tty (socat's end of a pty): hand it back.
    if (this.exclusive === null && this.fd !== null) setExclusive(this.fd, false);
    this.exclusive = "closed";
    return new Promise((resolve) => port.close(() => resolve()));
  }
}
