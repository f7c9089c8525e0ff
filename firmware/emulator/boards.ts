// Board profiles of the emulator: what each Espruino board has (crypto hashes, Storage size, variable cap,
// console device, pins, RTC behaviour). The figures live in the one facts table, BOARDS in
// ../espruino-facts.mjs (typed in ../espruino-facts.d.mts); this module gives the emulator its lookups.
import { BOARDS as FACT_BOARDS, type BoardName, type BoardProfile } from "../espruino-facts.mjs";

export type { BoardName, BoardProfile, JsVarLayout } from "../espruino-facts.mjs";

/** The board profiles: the very table of ../espruino-facts.mjs. */
export const BOARDS: Record<BoardName, BoardProfile> = FACT_BOARDS;

/** Is this a Linux build (no pins, host clock, Serial1 absent)? */
export function isLinux(b: BoardProfile): boolean {
  return b.rtc === "host";
}

/** The profile of a board by name: the facts table's own lookup. */
export { getBoard } from "../espruino-facts.mjs";
