// Board profiles of the emulator: what each Espruino board has (crypto hashes, Storage size, variable cap,
// console device, pins, RTC behaviour). Figures from shared/facts/espruino.md and the Espruino board files.

export type BoardName = "pico" | "puckjs" | "bangle2" | "original" | "linux";

export interface BoardProfile {
  name: BoardName;
  /** process.env.BOARD on the real interpreter. */
  envBoard: string;
  /** Board JSON file for the espruino CLI (firmware/boards/). */
  boardJson: string;
  /** Hashes of require("crypto"); null: the board has no crypto module at all. */
  hashes: string[] | null;
  /** Storage area in bytes. */
  storageBytes: number;
  /** Flash page size in bytes (erase unit). */
  pageBytes: number;
  /** process.memory().total: the variable cap. */
  vars: number;
  /** Bytes per variable (12 on boards built with <1024… 4095 vars packing, else 16). */
  blockBytes: number;
  /** Name of the device the console (and the host link) is on at boot. */
  consoleDevice: string;
  /** The button pin name (undefined on Linux). */
  button?: string;
  /** LED pin names. */
  leds: string[];
  /**
   * Hardware pin of each named pin: [name as the device prints it, pin number]. On Espruino a pin is a Pin value
   * (jsvar.h: jsvIsPin is integer-ish) whose number is its index: `typeof BTN` is "number", `BTN|0` its index,
   * and `if (BTN)` is false for pin 0 (jsvGetBool → jsvGetInteger). nRF52 pins D<n> have index n (Puck.js BTN
   * is D0); STM32 indices are estimated as port×16+n (only whether it is 0 matters for truthiness).
   */
  pinHw: Record<string, [string, number]>;
  /** RTC chip family: STM32 keeps time across reset but not power loss; nRF52 keeps it across reset too. */
  rtc: "stm32" | "nrf52" | "host";
  /** Wire strings are 8-bit (Pico, Puck.js…) or UTF-8 (Linux). */
  utf8: boolean;
  /** setTime() does nothing (Linux build). */
  setTimeNoop: boolean;
  /** E.hwRand() repeats its sequence from boot (Linux build). */
  hwRandRepeats: boolean;
}

const ALL = ["SHA1", "SHA256", "SHA512"];

export const BOARDS: Record<BoardName, BoardProfile> = {
  pico: {
    name: "pico", envBoard: "PICO_R1_3", boardJson: "PICO_R1_3.json", hashes: ["SHA1", "SHA256"],
    storageBytes: 48 * 1024, pageBytes: 16 * 1024, vars: 5100, blockBytes: 16, consoleDevice: "USB",
    button: "BTN1", leds: ["LED1", "LED2"], pinHw: { BTN1: ["C13", 45], LED1: ["B2", 18], LED2: ["B12", 28] }, rtc: "stm32", utf8: false, setTimeNoop: false, hwRandRepeats: false,
  },
  puckjs: {
    name: "puckjs", envBoard: "PUCKJS", boardJson: "PUCKJS.json", hashes: ["SHA1", "SHA256"],
    storageBytes: 40 * 1024, pageBytes: 4096, vars: 2630, blockBytes: 16, consoleDevice: "Bluetooth",
    button: "BTN1", leds: ["LED1", "LED2", "LED3"], pinHw: { BTN1: ["D0", 0], LED1: ["D5", 5], LED2: ["D4", 4], LED3: ["D3", 3] }, rtc: "nrf52", utf8: false, setTimeNoop: false, hwRandRepeats: false,
  },
  bangle2: {
    name: "bangle2", envBoard: "BANGLEJS2", boardJson: "BANGLEJS2.json", hashes: ALL,
    storageBytes: 8 * 1024 * 1024, pageBytes: 4096, vars: 12000, blockBytes: 16, consoleDevice: "Bluetooth",
    button: "BTN1", leds: [], pinHw: { BTN1: ["D17", 17] }, rtc: "nrf52", utf8: false, setTimeNoop: false, hwRandRepeats: false,
  },
  original: {
    name: "original", envBoard: "ESPRUINOBOARD", boardJson: "ESPRUINOBOARD.json", hashes: null,
    storageBytes: 20 * 1024, pageBytes: 2048, vars: 2250, blockBytes: 16, consoleDevice: "USB",
    button: "BTN1", leds: ["LED1", "LED2", "LED3"], pinHw: { BTN1: ["B12", 28], LED1: ["A13", 13], LED2: ["A14", 14], LED3: ["A15", 15] }, rtc: "stm32", utf8: false, setTimeNoop: false, hwRandRepeats: false,
  },
  linux: {
    name: "linux", envBoard: "LINUX", boardJson: "LINUX.json", hashes: ALL,
    storageBytes: 4 * 1024 * 1024, pageBytes: 4096, vars: 4000, blockBytes: 16, consoleDevice: "USB",
    button: undefined, leds: [], pinHw: {}, rtc: "host", utf8: true, setTimeNoop: true, hwRandRepeats: true,
  },
};

export function getBoard(name: string | undefined): BoardProfile {
  const n = (name || "pico").toLowerCase();
  const b = (BOARDS as Record<string, BoardProfile>)[n];
  if (!b) throw new RangeError("Unknown board " + JSON.stringify(name) + "; expected one of " + Object.keys(BOARDS).join(", ") + ".");
  return b;
}
