// A stand-in token for host tests: a TCP server on 127.0.0.1 that speaks protocol v1 through
// protocol/index.ts (parseRequest, encodeOk/encodeError/encodePress) and computes RFC 6238 codes with
// node:crypto. An optional PIN (unlock, lock, pin; E_PIN with tries, E_LOCKED) and, with `press` set, a
// notice before the reply of delete, wipe and pin, then the reply after `press.replyAfterMs`.
// Modes imitate a bare Espruino REPL, a newer firmware, and a device that never answers.
import { createHmac } from "node:crypto";
import net from "node:net";
import {
  ERR,
  MAX_REQUEST_LINE,
  LIMITS,
  OPS,
  PROTOCOL_VERSION,
  type PinState,
  type PressData,
  type SlotInfo,
  createLineReader,
  encodeError,
  encodeOk,
  encodePress,
  parseRequest,
} from "../../protocol/index.ts";

export type FakeMode = "ok" | "repl" | "v0" | "v2" | "silent";

export interface FakeSlot extends SlotInfo {
  key: Buffer;
}

export interface FakeDevice {
  port: number;
  address: string;
  slots: Map<string, FakeSlot>;
  /** Device clock offset from the host's, seconds; null = unset. */
  clock: { offset: number | null };
  requests: string[];
  mode: FakeMode;
  maxSlots: number;
  /** Runs before each valid request is handled; returning an error code makes the device refuse it with that code. */
  hook?: (op: string, a: Record<string, unknown>) => string | void;
  /** The PIN (null: none), tries left, unlocked, idle seconds. */
  pin: { value: string | null; tries: number; unlocked: boolean; idle: number };
  /** Set: delete, wipe and pin send a press notice (wipe a long one) and reply replyAfterMs later, as if pressed. */
  press?: { ms: number; replyAfterMs: number };
  /** Drop every connection (an unplug). */
  dropAll(): void;
  close(): Promise<void>;
}

export function totp(key: Buffer, t: number, alg = "SHA1", digits = 6, period = 30): string {
  const counter = Math.floor(t / period);
  const msg = Buffer.alloc(8);
  msg.writeUInt32BE(Math.floor(counter / 0x100000000), 0);
  msg.writeUInt32BE(counter % 0x100000000, 4);
  const h = createHmac(alg.toLowerCase(), key).update(msg).digest();
  const o = h[h.length - 1] & 15;
  const bin = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(bin % 10 ** digits).padStart(digits, "0");
}

export async function startFakeDevice(
  opts: { mode?: FakeMode; maxSlots?: number; clockOffset?: number | null; port?: number; slots?: Map<string, FakeSlot> } = {},
): Promise<FakeDevice> {
  const sockets = new Set<net.Socket>();
  const dev: FakeDevice = {
    port: 0,
    address: "",
    slots: opts.slots ?? new Map(),
    clock: { offset: opts.clockOffset === undefined ? 0 : opts.clockOffset },
    requests: [],
    mode: opts.mode ?? "ok",
    maxSlots: opts.maxSlots ?? 32,
    pin: { value: null, tries: LIMITS.PIN_TRIES, unlocked: false, idle: 0 },
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  const now = () => (dev.clock.offset === null ? 1000 : Date.now() / 1000 + dev.clock.offset);
  const slotInfo = (s: FakeSlot): SlotInfo => {
    const { key: _k, ...info } = s;
    return info;
  };
  const pinState = (): PinState => ({ set: dev.pin.value !== null, locked: dev.pin.value !== null && !dev.pin.unlocked, tries: dev.pin.tries, idle: dev.pin.idle });
  /** A PIN check that spends a try first (null: right; else the error reply). */
  const tryPin = (id: number, pin: unknown): string | null => {
    dev.pin.tries--;
    if (pin === dev.pin.value) {
      dev.pin.tries = LIMITS.PIN_TRIES;
      dev.pin.unlocked = true;
      return null;
    }
    if (dev.pin.tries <= 0) {
      dev.slots.clear();
      dev.pin = { value: null, tries: LIMITS.PIN_TRIES, unlocked: false, idle: 0 };
      return encodeError(id, ERR.PIN, "Wrong PIN: the token wiped itself.", { tries: 0, wiped: true });
    }
    return encodeError(id, ERR.PIN, "Wrong PIN: " + dev.pin.tries + " tries left.", { tries: dev.pin.tries, wiped: false });
  };
  const handle = (line: string, send: (s: string) => void): string | null => {
    const out = handleNow(line);
    if (out === null || dev.press === undefined) return out;
    const req = parseRequest(line);
    if (!req.ok || out.indexOf('"ok":true') < 0) return out;
    const op = req.req.op;
    const what = op === OPS.DELETE ? "delete slot " + req.req.a.name : op === OPS.WIPE ? "wipe every slot" : op === OPS.PIN ? "change the PIN" : null;
    if (what === null) return out;
    const p: PressData = { what, long: op === OPS.WIPE, ms: dev.press.ms };
    send(encodePress(req.req.id, p));
    setTimeout(() => send(out), dev.press.replyAfterMs);
    return null;
  };
  const handleNow = (line: string): string | null => {
    dev.requests.push(line);
    if (dev.mode === "silent") return null;
    if (dev.mode === "repl") return ">" + line + "\r\nUncaught SyntaxError: Got ':' expected EOF\r\n at line 1 col 5\r\n";
    const p = parseRequest(line);
    if (dev.mode === "v2" || dev.mode === "v0") {
      const v = dev.mode === "v2" ? 2 : 0;
      const id = (JSON.parse(line) as { id: number }).id;
      return JSON.stringify({ v, id, ok: false, e: ERR.VERSION, m: "This device speaks protocol " + v + ", not 1." }) + "\n";
    }
    if (!p.ok) return encodeError(p.id, p.e, p.m);
    const { id, op, a } = p.req;
    const refused = dev.hook?.(op, a as Record<string, unknown>);
    if (refused) return encodeError(id, refused, "Refused by the test (" + refused + ").");
    const guarded = op === OPS.LIST || op === OPS.CODE || op === OPS.ADD || op === OPS.DELETE || op === OPS.WIPE;
    if (guarded && pinState().locked) return encodeError(id, ERR.LOCKED, "Locked: unlock with the PIN first.");
    const t = now();
    const clockData = () => ({ set: dev.clock.offset !== null, t, raw: t, ppm: 0, synced: null, samples: 0 });
    switch (op) {
      case OPS.HELLO:
        return encodeOk(id, {
          fw: "0.0.0-fake", proto: PROTOCOL_VERSION, board: "FAKE", algs: ["SHA1", "SHA256", "SHA512"],
          slots: { used: dev.slots.size, max: dev.maxSlots }, clock: clockData(), heap: { free: 1000, usage: 100, total: 1100 },
          pin: pinState(), guard: { button: dev.press !== undefined, pin: dev.pin.value !== null },
        });
      case OPS.UNLOCK: {
        if (dev.pin.value === null) return encodeOk(id, { ...pinState() });
        return tryPin(id, a.pin) ?? encodeOk(id, { ...pinState() });
      }
      case OPS.LOCK:
        dev.pin.unlocked = false;
        return encodeOk(id, { ...pinState() });
      case OPS.PIN: {
        const set = dev.pin.value !== null;
        if (set ? a.pin === undefined : a.pin !== undefined || a.next === undefined) return encodeError(id, ERR.ARG, "Bad pin arguments.");
        if (set) {
          const bad = tryPin(id, a.pin);
          if (bad) return bad;
        }
        if (a.next === undefined && a.idle === undefined) dev.pin = { value: null, tries: LIMITS.PIN_TRIES, unlocked: false, idle: 0 };
        else {
          if (a.next !== undefined) dev.pin.value = a.next as string;
          if (a.idle !== undefined) dev.pin.idle = a.idle as number;
          dev.pin.unlocked = true;
        }
        return encodeOk(id, { ...pinState() });
      }
      case OPS.TIME:
        return encodeOk(id, clockData());
      case OPS.SET_TIME: {
        const prev = t;
        dev.clock.offset = (a.t as number) - Date.now() / 1000;
        return encodeOk(id, { prev, t: a.t as number, jump: false });
      }
      case OPS.ADD: {
        const name = a.name as string;
        if (dev.slots.has(name)) return encodeError(id, ERR.EXISTS, "A slot named " + name + " exists already.");
        if (dev.slots.size >= dev.maxSlots) return encodeError(id, ERR.FULL, "All " + dev.maxSlots + " slots are used.");
        const slot: FakeSlot = {
          name, alg: (a.alg as SlotInfo["alg"]) ?? "SHA1", digits: (a.digits as number) ?? 6, period: (a.period as number) ?? 30,
          touch: !!a.touch, key: Buffer.from(a.key as string, "hex"), ...(a.serial ? { serial: a.serial as string } : {}),
        };
        dev.slots.set(name, slot);
        return encodeOk(id, { slot: slotInfo(slot) });
      }
      case OPS.LIST:
        return encodeOk(id, { slots: [...dev.slots.values()].map(slotInfo), max: dev.maxSlots });
      case OPS.DELETE: {
        const name = a.name as string;
        if (!dev.slots.delete(name)) return encodeError(id, ERR.NOSLOT, "No slot named " + name + ".");
        return encodeOk(id, { name });
      }
      case OPS.CODE: {
        if (dev.clock.offset === null) return encodeError(id, ERR.CLOCK, "The clock is not set.");
        const pick = a.name === undefined ? [...dev.slots.values()] : [dev.slots.get(a.name as string)];
        if (pick[0] === undefined) return encodeError(id, ERR.NOSLOT, "No slot named " + a.name + ".");
        const codes = (pick as FakeSlot[]).map((s) => ({
          name: s.name,
          code: s.touch && a.name === undefined ? null : totp(s.key, t, s.alg, s.digits, s.period),
          step: Math.floor(t / s.period),
          left: s.period - (t % s.period),
          period: s.period,
          touch: s.touch,
        }));
        return encodeOk(id, { t, codes });
      }
      case OPS.WIPE: {
        const n = dev.slots.size;
        dev.slots.clear();
        return encodeOk(id, { slots: n });
      }
    }
    return encodeError(id, ERR.OP, "Unknown op.");
  };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.setEncoding("utf8");
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    const send = (out: string) => {
      if (!sock.destroyed) sock.write(out);
    };
    const reader = createLineReader(MAX_REQUEST_LINE, (line) => {
      const out = handle(line, send);
      if (out !== null) send(out);
    }, () => sock.write(encodeError(null, ERR.FRAME, "Frame too long.")));
    sock.on("data", (s: string) => reader.push(s));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", () => resolve()));
  dev.port = (server.address() as net.AddressInfo).port;
  dev.address = "tcp://127.0.0.1:" + dev.port;
  return dev;
}
