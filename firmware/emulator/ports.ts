// The board's serial devices as the program sees them: the console port (USB or Bluetooth), Serial1, and the
// Loopbacks (jswrap_serial.c): data events deliver strings, writes take strings, numbers (a byte) or arrays.
import type { BoardProfile } from "./boards.ts";
import type { Define } from "./core.ts";
import { latin1 } from "./storage.ts";

type DataHandler = (data: string) => void;

/** What a port needs from its device. */
export interface PortHost {
  readonly board: BoardProfile;
  readonly consoleName: string;
  /** The interpreter crashed: it says nothing more. */
  readonly faulted: boolean;
  inFlight(chars: number): void;
  setConsole(dev: unknown, force: boolean): void;
  /** Characters for the console (the REPL). */
  consoleInput(s: string): void;
  task(fn: () => void): void;
}

export class Port {
  private listeners: DataHandler[] = [];
  /** The object the program sees (USB, Bluetooth, LoopbackA…). */
  readonly api: any;
  constructor(
    private readonly host: PortHost,
    readonly name: string,
    readonly sink: (s: string) => void,
  ) {
    const self = this;
    this.api = {
      on(ev: string, cb: DataHandler) {
        if (ev === "data" && typeof cb === "function") self.listeners.push(cb);
      },
      removeAllListeners(ev?: string) {
        if (ev === undefined || ev === "data") self.listeners = [];
      },
      removeListener(ev: string, cb: DataHandler) {
        if (ev === "data") self.listeners = self.listeners.filter((h) => h !== cb);
      },
      write() {
        for (let i = 0; i < arguments.length; i++) self.write(arguments[i]);
      },
      print(s: unknown) {
        self.write(String(s));
      },
      println(s: unknown) {
        self.write(String(s) + "\r\n");
      },
      setConsole(force?: boolean) {
        self.host.setConsole(self.name, !!force);
      },
      setup() {},
      toString() {
        return self.name;
      },
    };
  }

  /** The program's on("data") handlers. */
  get handlers(): readonly DataHandler[] {
    return this.listeners;
  }

  /** Boot: the program's handlers gone. */
  clearHandlers(): void {
    this.listeners = [];
  }

  /** Characters arriving at the device on this port. */
  input(s: string): void {
    if (this.host.consoleName === this.name) this.host.consoleInput(s);
    else if (this.listeners.length) {
      const hs = this.listeners.slice();
      this.host.task(() => {
        for (const h of hs) h(s);
      });
    }
  }

  /** The program writes `v` to this port: a string of bytes on the wire (UTF-8 on the Linux builds). */
  write(v: unknown): void {
    if (this.host.faulted) return; // a crashed device says nothing
    let s: string;
    if (typeof v === "string") s = v;
    else if (typeof v === "number") s = String.fromCharCode(v & 255);
    else if (v && (ArrayBuffer.isView(v) || Array.isArray(v))) s = latin1(Uint8Array.from(v as ArrayLike<number>, (x) => x & 255));
    else s = String(v);
    this.host.inFlight(s.length);
    if (!this.host.board.utf8) {
      let ok = true;
      for (let i = 0; i < s.length && ok; i++) ok = s.charCodeAt(i) < 256;
      if (!ok) s = s.replace(/[^\x00-\xff]/g, (c) => String.fromCharCode(c.charCodeAt(0) & 255));
    } else s = Buffer.from(s, "utf8").toString("latin1");
    this.sink(s);
  }
}

/**
 * The ports of a board: the console device (its output goes to the host), LoopbackA and LoopbackB (each one's
 * output is the other's input) and Serial1 (connected to nothing).
 */
export function boardPorts(host: PortHost, toHost: (s: string) => void): Map<string, Port> {
  const ports = new Map<string, Port>();
  const con = new Port(host, host.board.consoleDevice, toHost);
  ports.set(con.name, con);
  ports.set("LoopbackA", new Port(host, "LoopbackA", (s) => ports.get("LoopbackB")!.input(s)));
  ports.set("LoopbackB", new Port(host, "LoopbackB", (s) => ports.get("LoopbackA")!.input(s)));
  ports.set("Serial1", new Port(host, "Serial1", () => {}));
  return ports;
}

/** The ports' globals (USB, Bluetooth, Serial1, LoopbackA, LoopbackB). */
export function installPorts(ports: Map<string, Port>, def: Define): void {
  for (const [name, port] of ports) def(name, port.api);
}
