// The firmware in the emulator, on virtual time, for the clock suites: a frozen RTC moved only by
// `advance` (true seconds; the RTC moves by true × (1 + drift), drift applied here since the emulator's
// fast-forward counts device seconds), a Session over an in-process link, and a ClockPort whose every
// exchange takes a simulated USB round trip (true and device time advance by each leg's latency).
import { createEmulator, type Emulator } from "../../firmware/emulator/index.ts";
import { Session } from "../../host/src/session.ts";
import { MemoryLink } from "../../host/src/link/memory.ts";
import type { ClockSetArgs, ClockPort, CodePort } from "../../host/src/clock/index.ts";
import type { ClockData, CodeData, SetTimeData } from "../../protocol/index.ts";

export interface EmuClock {
  emu: Emulator;
  session: Session;
  /** ClockPort + CodePort with the simulated round trip. */
  port: ClockPort & CodePort;
  trueNow(): number;
  /** Moves true time; the device's RTC by its drift. */
  advance(seconds: number): void;
  drift: number;
  /** Latency of each leg of an exchange, s. */
  latency: () => number;
  /** True time when the device handled the last request. */
  lastStamp(): number;
  stop(): Promise<void>;
}

export async function startEmuClock(o: { board?: string; trueStart: number; deviceStart?: number; drift?: number; vars?: number }): Promise<EmuClock> {
  const emu = createEmulator({ board: o.board ?? "puckjs", clock: o.deviceStart ?? o.trueStart, frozenClock: true, ...(o.vars ? { vars: o.vars } : {}) });
  await emu.start();
  let T = o.trueStart;
  let stamp = T;
  const h: EmuClock = {
    emu,
    session: null as unknown as Session,
    drift: o.drift ?? 0,
    latency: () => 0.002,
    trueNow: () => T,
    advance(seconds: number) {
      if (seconds <= 0) return;
      T += seconds;
      emu.control.advance(seconds * (1 + h.drift * 1e-6));
    },
    lastStamp: () => stamp,
    port: null as unknown as ClockPort & CodePort,
    async stop() {
      await h.session.close();
      await emu.stop();
    },
  };
  h.session = await Session.connect(new MemoryLink(emu, "emulator:" + emu.board.name));
  const around = async <R>(f: () => Promise<R>): Promise<R> => {
    h.advance(h.latency());
    stamp = T;
    try {
      return await f();
    } finally {
      h.advance(h.latency());
    }
  };
  h.port = {
    time: (): Promise<ClockData> => around(() => h.session.time()),
    setTime: (a: ClockSetArgs): Promise<SetTimeData> => around(() => h.session.setTime(a)),
    code: (name?: string): Promise<CodeData> => around(() => h.session.code(name)),
  };
  return h;
}
