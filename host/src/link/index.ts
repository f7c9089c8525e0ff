// The one small contract for a byte pipe to a device (after serialport's binding contract): open, write,
// onData, onClose, close. Serial (USB CDC / pty), Unix sockets (the emulator, the daemon) and TCP (an emulator
// asked for TCP, socat bridges) sit behind it.
// Data is delivered as strings (UTF-8 decoded across chunk boundaries); framing is the session's job.
import { DeviceNotFoundError, HwtotpError } from "../errors.ts";

export interface Link {
  /** Where it goes, as the user would write it (tcp://127.0.0.1:4321, /dev/ttyACM0, unix:/run/…). */
  readonly address: string;
  open(): Promise<void>;
  write(data: string): Promise<void>;
  /** One listener; chunks arrive in order, split anywhere. */
  onData(cb: (chunk: string) => void): void;
  /** Called once when the link ends: with an error (`disconnected: true`) if it went away, else undefined. */
  onClose(cb: (err?: HwtotpError) => void): void;
  close(): Promise<void>;
  readonly isOpen: boolean;
}

export function disconnectedError(address: string, why?: string): HwtotpError {
  return new DeviceNotFoundError("Lost the connection to " + address + (why ? " (" + why + ")" : "") + ".", true);
}

export type Address =
  | { kind: "tcp"; host: string; port: number; text: string }
  | { kind: "serial"; path: string; baudRate: number; text: string }
  | { kind: "unix"; path: string; text: string };

/** Espruino boards talk at 9600 baud by default; USB CDC ignores the rate. `PATH?baud=N` overrides it. */
export const DEFAULT_BAUD = 9600;

/** Parses `tcp://HOST:PORT`, `unix:PATH`, `serial:PATH` or a bare device path (optionally `?baud=N`). */
export function parseAddress(text: string): Address {
  const s = text.trim();
  if (s.startsWith("tcp://")) {
    const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(s);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port > 0 && port < 65536)) {
      throw new DeviceNotFoundError('The device address "' + s + '" is not of the form tcp://HOST:PORT.');
    }
    return { kind: "tcp", host: m[1].replace(/^\[|\]$/g, ""), port, text: s };
  }
  if (s.startsWith("unix:")) {
    if (s.length === 5) throw new DeviceNotFoundError('The device address "unix:" names no socket: give unix:PATH.');
    return { kind: "unix", path: s.slice(5), text: s };
  }
  let path = s.startsWith("serial:") ? s.slice(7) : s;
  let baudRate = DEFAULT_BAUD;
  const q = path.indexOf("?baud=");
  if (q >= 0) {
    baudRate = Number(path.slice(q + 6));
    path = path.slice(0, q);
    if (!Number.isInteger(baudRate) || baudRate <= 0) {
      throw new DeviceNotFoundError('The baud rate in "' + s + '" is not a positive whole number.');
    }
  }
  if (!path) throw new DeviceNotFoundError("The device address is empty.");
  return { kind: "serial", path, baudRate, text: s };
}

/** A closed Link for an address; serialport is imported only when a serial address is used. */
export async function createLink(address: string | Address): Promise<Link> {
  const a = typeof address === "string" ? parseAddress(address) : address;
  if (a.kind === "tcp") {
    const { TcpLink } = await import("./tcp.ts");
    return new TcpLink(a.host, a.port, a.text);
  }
  if (a.kind === "unix") {
    const { TcpLink } = await import("./tcp.ts");
    return TcpLink.unix(a.path, a.text);
  }
  const { SerialLink } = await import("./serial.ts");
  return new SerialLink(a.path, a.baudRate, a.text);
}
