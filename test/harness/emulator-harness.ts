// The real firmware in the in-process emulator, reachable over TCP on 127.0.0.1 like `hwtotp emulate --tcp`.
// `inspect()` reads the slots through a second, in-process session (request ids far from the CLI's).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createEmulator, type Emulator, type EmulatorOptions } from "../../firmware/emulator/index.ts";
import type { ListData } from "../../protocol/index.ts";
import { MemoryLink } from "../../host/src/link/memory.ts";
import { Session } from "../../host/src/session.ts";

export interface EmuTarget {
  emu: Emulator;
  port: number;
  address: string;
  stateFile: string;
  inspect(): Promise<ListData>;
  session(): Promise<Session>;
  stop(): Promise<void>;
}

let nextRange = 1_000_000;

export interface EmuOptions {
  board?: string;
  stateFile?: string;
  port?: number;
  flashed?: boolean;
  clock?: number;
  /** A user at the board confirming what the firmware asks a press for (see EmulatorOptions.autoPress). */
  autoPress?: EmulatorOptions["autoPress"];
}

export async function startEmu(o: EmuOptions = {}): Promise<EmuTarget> {
  const stateFile = o.stateFile ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-emu-")), "state.json");
  const emu = createEmulator({
    board: o.board ?? "pico",
    stateFile,
    clock: o.clock ?? Date.now() / 1000,
    flashed: o.flashed,
    autoPress: o.autoPress,
  });
  await emu.start();
  const { port } = await emu.listen({ port: o.port ?? 0 });
  const session = async () => {
    nextRange += 1_000_000;
    return Session.connect(new MemoryLink(emu, "in-process"), { firstId: nextRange });
  };
  return {
    emu,
    port,
    address: "tcp://127.0.0.1:" + port,
    stateFile,
    session,
    async inspect() {
      const s = await session();
      try {
        return await s.list();
      } finally {
        await s.close();
      }
    },
    stop: () => emu.stop(),
  };
}
