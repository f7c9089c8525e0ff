// The firmware in the emulator, on virtual time, for the clock suites: a frozen RTC moved only by
// `advance` (true seconds; the RTC moves by true × (1 + drift), drift applied here since the emulator's
// fast-forward counts device seconds), a Session over an in-process link, and a ClockPort whose every
// exchange takes a simulated USB round trip (true and device time advance by each leg's latency). With
// `user: true`, a user at the board answers each press the firmware asks for as `willPress` says: a press
// (a long one when asked), or none, and the firmware gives up after its wait (true time moves on by it).
import { createEmulator, type Emulator } from "../../firmware/emulator/index.ts";
import { Session } from "../../host/src/session.ts";
import { MemoryLink } from "../../host/src/link/memory.ts";
import type { ClockSetArgs, ClockPort, CodePort } from "../../host/src/clock/index.ts";
import type { ClockData, CodeData, PressData, SetTimeData } from "../../protocol/index.ts";

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
  /** Settimes through `port` the device accepted. */
  writes: number;
  /** With `user`: whether the user presses when the device asks. */
  willPress: boolean;
  /** The device's state now, read without a simulated round trip. */
  state(): Promise<ClockData>;
  stop(): Promise<void>;
}

export async function startEmuClock(o: {
  board?: string;
  trueStart: number;
  deviceStart?: number;
  drift?: number;
  vars?: number;
  user?: boolean;
}): Promise<EmuClock> {
  const user = (p: PressData): boolean => {
    if (h.willPress) return true;
    setImmediate(() => h.advance(p.ms / 1000 + 1));
    return false;
  };
  const emu = createEmulator({
    board: o.board ?? "puckjs",
    clock: o.deviceStart ?? o.trueStart,
    frozenClock: true,
    ...(o.vars ? { vars: o.vars } : {}),
    ...(o.user ? { autoPress: user } : {}),
  });
  await emu.start();
  let T = o.trueStart;
  let stamp = T;
  const h: EmuClock = {
    emu,
    session: null as unknown as Session,
    drift: o.drift ?? 0,
    latency: () => 0.002,
    writes: 0,
    willPress: false,
    state: () => h.session.time(),
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
    setTime: async (a: ClockSetArgs): Promise<SetTimeData> => {
      const r = await around(() => h.session.setTime(a));
      h.writes++;
      return r;
    },
    code: (name?: string): Promise<CodeData> => around(() => h.session.code(name)),
  };
  return h;
}
