// The token for tests of the integrations' enrolment code (host/src/integrations/*): the firmware in an
// in-process emulator (the Linux build's profile: no button, so deletes need no press; every hash) through the
// host's own Session over a MemoryLink, which is the SlotDevice the integrations use
// (host/src/integrations/device.ts). The seeds the tests check codes with are the ones the slots were added
// with, as the host sent them; `fail` makes the next call of one op fail with the error given instead of
// reaching the device (a rollback whose undo step fails). `frozenAt` starts the token's clock frozen at that
// time (Unix seconds), for tests on virtual time: it then moves only through emu.control.advance/setClock.
// `requests(op)` counts the requests of `op` the Session sent (e.g. how many codes a caller spent).
import { createEmulator, type Emulator } from "../../firmware/emulator/index.ts";
import type { SlotDevice } from "../../host/src/integrations/device.ts";
import { MemoryLink } from "../../host/src/link/memory.ts";
import { Session } from "../../host/src/session.ts";

export interface EmuSlots {
  emu: Emulator;
  session: Session;
  /** The session, with the keys of its adds noted (and any failure set by `fail`). */
  device: SlotDevice;
  /** The seed (hex) slot `name` was last added with, or undefined. */
  keyOf(name: string): string | undefined;
  slotNames(): Promise<string[]>;
  /** The next call of `op` throws `err` instead of reaching the device. */
  fail(op: keyof SlotDevice, err: Error): void;
  /** Moves the token's clock by `seconds` (the RTC itself: no settime, drift or guard involved). */
  shiftClock(seconds: number): void;
  /** How many requests of `op` (protocol op name, e.g. "code") the Session has sent. */
  requests(op: string): number;
  close(): Promise<void>;
}

const running = new Set<EmuSlots>();

/** Stops every token still running (afterEach). */
export async function stopEmuSlots(): Promise<void> {
  for (const t of [...running]) await t.close();
}

export async function startEmuSlots(o: { board?: string; frozenAt?: number } = {}): Promise<EmuSlots> {
  const frozen = o.frozenAt !== undefined;
  const emu = createEmulator({ board: o.board ?? "linux", clock: frozen ? o.frozenAt : Date.now() / 1000, frozenClock: frozen });
  await emu.start();
  const sent = new Map<string, number>();
  const port = {
    write(data: string): void {
      for (const line of data.split("\n")) {
        const op = requestOp(line);
        if (op) sent.set(op, (sent.get(op) ?? 0) + 1);
      }
      emu.write(data);
    },
    onData: (cb: (s: string) => void) => emu.onData(cb),
  };
  const session = await Session.connect(new MemoryLink(port, "emulator:" + emu.board.name));
  const keys = new Map<string, string>();
  const failures = new Map<keyof SlotDevice, Error>();
  const failed = (op: keyof SlotDevice): void => {
    const err = failures.get(op);
    if (!err) return;
    failures.delete(op);
    throw err;
  };
  const device: SlotDevice = {
    async add(a) {
      failed("add");
      const r = await session.add(a);
      keys.set(a.name, a.key);
      return r;
    },
    async delete(name) {
      failed("delete");
      return session.delete(name);
    },
    async code(name) {
      failed("code");
      return session.code(name);
    },
    async list() {
      failed("list");
      return session.list();
    },
  };
  const t: EmuSlots = {
    emu,
    session,
    device,
    keyOf: (name) => keys.get(name),
    slotNames: async () => (await session.list()).slots.map((s) => s.name),
    fail: (op, err) => void failures.set(op, err),
    shiftClock: (seconds) => emu.control.setClock(emu.control.now() + seconds),
    requests: (op) => sent.get(op) ?? 0,
    async close() {
      running.delete(t);
      await session.close();
      await emu.stop();
    },
  };
  running.add(t);
  return t;
}

/** The op of a request line, or undefined. */
function requestOp(line: string): string | undefined {
  if (!line.includes('"op"')) return undefined;
  try {
    const o: unknown = JSON.parse(line);
    return typeof o === "object" && o !== null && typeof (o as { op?: unknown }).op === "string" ? (o as { op: string }).op : undefined;
  } catch {
    return undefined;
  }
}
