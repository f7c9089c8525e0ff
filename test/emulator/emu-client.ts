// A minimal protocol client over the emulator's in-process link, for the emulator's own tests.
import { createLineReader, encodeRequest, MAX_REPLY_LINE, parseReply, type Reply } from "../../protocol/index.ts";
import type { Emulator } from "../../firmware/emulator/index.ts";

export interface EmuClient {
  request(op: string, a?: Record<string, unknown>): Promise<Reply>;
  /** Raw output seen that was not a reply line. */
  noise: string[];
  close(): void;
}

export function connect(emu: Emulator, timeoutMs = 5000): EmuClient {
  let nextId = 1;
  const waiting = new Map<number, (r: Reply) => void>();
  const noise: string[] = [];
  const reader = createLineReader(MAX_REPLY_LINE, (line) => {
    const r = parseReply(line);
    if (r && r.id !== null && waiting.has(r.id)) {
      const cb = waiting.get(r.id)!;
      waiting.delete(r.id);
      cb(r);
    } else noise.push(line);
  }, () => noise.push("<oversize>"));
  const off = emu.onData((s) => reader.push(s));
  return {
    noise,
    request(op, a) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error("no reply to " + op + " within " + timeoutMs + " ms; noise: " + noise.slice(-3).join(" | ")));
        }, timeoutMs);
        waiting.set(id, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        emu.write(encodeRequest(id, op, a));
      });
    },
    close() {
      off();
    },
  };
}

export async function ok(c: EmuClient, op: string, a?: Record<string, unknown>): Promise<Record<string, any>> {
  const r = await c.request(op, a);
  if (!r.ok) throw new Error(op + " failed: " + r.e + " " + r.m);
  return r.d as Record<string, any>;
}
