// Raw replies from the firmware, through the host's own client: a Session (host/src/session.ts) over a Link —
// a MemoryLink on an in-process emulator's console (connect), or any other Link, e.g. the real interpreter's
// console (test/harness/real-interpreter.ts). For tests that look at error codes and press notices as the device sent
// them: `request` resolves with the reply (ok or not) and rejects only when none came (timeout, closed link);
// `noise` holds the press notices seen, as the lines the device sent.
import { encodePress, type Reply } from "../../protocol/index.ts";
import type { Emulator } from "../../firmware/emulator/index.ts";
import { DeviceError } from "../../host/src/errors.ts";
import type { Link } from "../../host/src/link/index.ts";
import { MemoryLink } from "../../host/src/link/memory.ts";
import { Session } from "../../host/src/session.ts";

export interface EmuClient {
  /** One request; timeoutMs defaults to the client's. */
  request(op: string, a?: Record<string, unknown>, timeoutMs?: number): Promise<Reply>;
  /** The press notices seen (protocol lines, without the newline). */
  noise: string[];
  session: Session;
  close(): Promise<void>;
}

export interface ClientOptions {
  /** First request id (default: the Session's random one), e.g. to tell its replies from hand-made frames'. */
  firstId?: number;
}

/** A session on an open link (no handshake: the test says what it sends). */
export function clientOn(link: Link, timeoutMs = 5000, o: ClientOptions = {}): EmuClient {
  const session = new Session(link, { timeoutMs, touchTimeoutMs: timeoutMs, firstId: o.firstId });
  const noise: string[] = [];
  session.onPress((p, _op, id) => noise.push(encodePress(id, p).trim()));
  return {
    noise,
    session,
    request(op, a, ms = timeoutMs) {
      return session.request<Record<string, unknown>>(op, a, { timeoutMs: ms }).then(
        (d): Reply => ({ id: null, ok: true, d }),
        (err: unknown): Reply => {
          if (!(err instanceof DeviceError)) throw err;
          return { id: null, ok: false, e: err.code, m: err.message, ...(err.data ? { d: err.data } : {}) };
        },
      );
    },
    close() {
      return session.close();
    },
  };
}

/** A session on the emulator's console (no handshake: the test says what it sends). */
export function connect(emu: Emulator, timeoutMs = 5000, o: ClientOptions = {}): EmuClient {
  const link = new MemoryLink(emu, "emulator:" + emu.board.name);
  void link.open();
  return clientOn(link, timeoutMs, o);
}

/** The reply data of a request that must succeed. */
export async function ok(c: EmuClient, op: string, a?: Record<string, unknown>): Promise<Record<string, any>> {
  const r = await c.request(op, a);
  if (!r.ok) throw new Error(op + " failed: " + r.e + " " + r.m);
  return r.d as Record<string, any>;
}
