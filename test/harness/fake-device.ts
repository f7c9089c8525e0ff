// What the emulator cannot be, on TCP at 127.0.0.1: a device front that passes each request line to the
// firmware in an emulator behind it (and its output back) until the test makes it fall silent, drop every
// connection (an unplug) or refuse a request with an error reply of its choosing; or, with nothing behind
// it, a device that never answers or that speaks another protocol version. It holds no slots, no PIN and
// computes no code: the firmware behind it does. A bare Espruino REPL is the emulator with flashed: false.
import net from "node:net";
import type { Emulator } from "../../firmware/emulator/index.ts";
import { ERR, MAX_REQUEST_LINE, createLineReader, encodeError, parseRequest } from "../../protocol/index.ts";

/** pass: to the emulator behind; silent: no answer; v0/v2: a device of protocol 0 or 2. */
export type FakeMode = "pass" | "silent" | "v0" | "v2";

export interface FakeDevice {
  port: number;
  address: string;
  /** Every request line received, in order. */
  requests: string[];
  mode: FakeMode;
  /**
   * Runs before a valid request is passed on; returning an error code answers it with that code instead
   * (the emulator never sees it).
   */
  hook?: (op: string, a: Record<string, unknown>) => string | void;
  /** Drop every connection (an unplug). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startFakeDevice(opts: { mode?: FakeMode; behind?: Emulator } = {}): Promise<FakeDevice> {
  const behind = opts.behind;
  const sockets = new Set<net.Socket>();
  const dev: FakeDevice = {
    port: 0,
    address: "",
    requests: [],
    mode: opts.mode ?? (behind ? "pass" : "silent"),
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const answer = (line: string): string | null => {
    dev.requests.push(line);
    if (dev.mode === "silent") return null;
    const p = parseRequest(line);
    if (dev.mode === "v0" || dev.mode === "v2") {
      const v = dev.mode === "v2" ? 2 : 0;
      const m = "This device speaks protocol " + v + ", not 1.";
      return JSON.stringify({ v, id: p.ok ? p.req.id : p.id, ok: false, e: ERR.VERSION, m }) + "\n";
    }
    if (!behind) throw new Error("a fake device in pass mode needs an emulator behind it");
    const refused = p.ok ? dev.hook?.(p.req.op, p.req.a as Record<string, unknown>) : undefined;
    if (p.ok && refused) return encodeError(p.req.id, refused, "Refused by the test (" + refused + ").");
    behind.write(line + "\n");
    return null;
  };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.setEncoding("latin1");
    const off = behind?.onData((s) => {
      if (dev.mode === "pass" && !sock.destroyed) sock.write(Buffer.from(s, "latin1"));
    });
    sock.on("close", () => {
      sockets.delete(sock);
      off?.();
    });
    sock.on("error", () => {});
    const reader = createLineReader(
      MAX_REQUEST_LINE,
      (line) => {
        const out = answer(line);
        if (out !== null && !sock.destroyed) sock.write(out);
      },
      () => sock.write(encodeError(null, ERR.FRAME, "Frame too long.")),
    );
    sock.on("data", (s: string) => reader.push(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  dev.port = (server.address() as net.AddressInfo).port;
  dev.address = "tcp://127.0.0.1:" + dev.port;
  return dev;
}
