// Board profiles of the emulator: what each Espruino board has (crypto hashes, Storage size, variable cap,
// console device, pins, RTC behaviour). Figures from shared/facts/espruino.md and the Espruino board files.

export type BoardName = "pico" | "puckjs" | "bangle2" | "original" | "linux" | "linux2500";

/**
 * How the board's interpreter lays out its variables (src/jsutils.h, src/jsvar.h): JsVarRef bits follow the
 * variable count (12 bits up to 4,095 variables, 13 to 8,191, 14 to 16,383; 32 on the resizable Linux build),
 * the reference counter takes what is left, and a name holds 4 characters on a 32-bit chip, 8 on a 64-bit
 * build. heap.ts derives from it the characters per name, string and string-extension block, the block size,
 * and which integers fit inside a name.
 */
export interface JsVarLayout {
  refBits: number;
  refcountBits: number;
  /** JSVARREFCOUNT_PACK_BITS (only for 8- and 10-bit references). */
  packBits: number;
  word64: boolean;
}

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
  /**
   * Address of Storage's first byte as require("Flash") sees it (boards/*.py saved_code; Linux: FLASH_START of
   * targets/linux, its fake flash file). ARM boards report it as process.memory().flash_code_start; the Linux
   * builds report no flash_* fields and give it as Flash.getFree()[0].addr.
   */
  storageStart: number;
  /** process.memory().total: the variable cap. */
  vars: number;
  /** Bytes per variable, sizeof(JsVar) (process.memory().blocksize): 13 on a Puck.js, 17 on the 2,500 Linux build. */
  blockBytes: number;
  /** The variable layout the heap estimate counts in. */
  layout: JsVarLayout;
  /** require("crypto").PBKDF2 (built with USE_TLS: Pico, Linux). */
  pbkdf2: boolean;
  /** require("crypto").AES.encrypt/decrypt (USE_AES, or USE_TLS which implies it: Pico, Puck.js, Linux). */
  aes: boolean;
  /**
   * .bootcde is read as a native string pointing into memory-mapped flash (STM32, nRF52 internal flash). Functions
   * it defines keep pointers there; a compaction that moves the file while its code runs garbles it (see
   * runtime.ts). False where Storage is read as flash strings through a buffer (Bangle.js 2's SPI flash, Linux).
   */
  memoryMappedFlash: boolean;
  /** Name of the device the console (and the host link) is on at boot. */
  consoleDevice: string;
  /** The button pin name (undefined on Linux). */
  button?: string;
  /** Bangle.js: .boot0–.boot3 (and .bootPowerOn) are skipped too when BTN1 is held at first boot (jsflash.c). */
  bangle: boolean;
  /** process.memory().usage of a fresh board: the interpreter's own root, timers, watches, modules (measured on Linux). */
  baseVars: number;
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
/** 32-bit chip, 12-bit references (up to 4,095 variables): 13-byte blocks. */
const ARM12: JsVarLayout = { refBits: 12, refcountBits: 8, packBits: 0, word64: false };

// Figures: boards/*.py of Espruino 2v29 ('variables', libraries, saved_code pages) and the two Linux builds
// (../shared/espruino: process.memory(), process.env, getStats() measured).
export const BOARDS: Record<BoardName, BoardProfile> = {
  pico: {
    name: "pico", envBoard: "PICO_R1_3", boardJson: "PICO_R1_3.json", hashes: ["SHA1", "SHA256"], pbkdf2: true, aes: true,
    storageBytes: 48 * 1024, pageBytes: 16 * 1024, storageStart: 0x08004000, vars: 5100, blockBytes: 13, layout: { refBits: 13, refcountBits: 4, packBits: 0, word64: false }, consoleDevice: "USB",
    button: "BTN1", bangle: false, baseVars: 46, memoryMappedFlash: true, leds: ["LED1", "LED2"], pinHw: { BTN1: ["C13", 45], LED1: ["B2", 18], LED2: ["B12", 28] }, rtc: "stm32", utf8: false, setTimeNoop: false, hwRandRepeats: false,
  },
  puckjs: {
    name: "puckjs", envBoard: "PUCKJS", boardJson: "PUCKJS.json", hashes: ["SHA1", "SHA256"], pbkdf2: false, aes: true,
    storageBytes: 40 * 1024, pageBytes: 4096, storageStart: 0x6c000, vars: 2630, blockBytes: 13, layout: ARM12, consoleDevice: "Bluetooth",
    button: "BTN1", bangle: false, baseVars: 46, memoryMappedFlash: true, leds: ["LED1", "LED2", "LED3"], pinHw: { BTN1: ["D0", 0], LED1: ["D5", 5], LED2: ["D4", 4], LED3: ["D3", 3] }, rtc: "nrf52", utf8: false, setTimeNoop: false, hwRandRepeats: false,
  },
  bangle2: {
    name: "bangle2", envBoard: "BANGLEJS2", boardJson: "BANGLEJS2.json", hashes: ALL, pbkdf2: false, aes: false,
    storageBytes: 8 * 1024 * 1024, pageBytes: 4096, storageStart: 0x60000000, vars: 12000, blockBytes: 14, layout: { refBits: 14, refcountBits: 8, packBits: 0, word64: false }, consoleDevice: "Bluetooth",
    button: "BTN1", bangle: true, baseVars: 46, memoryMappedFlash: false, leds: [], pinHw: { BTN1: ["D17", 17] }, rtc: "nrf52", utf8: false, setTimeNoop: false, hwRandRepeats: false,
  },
  original: {
    name: "original", envBoard: "ESPRUINOBOARD", boardJson: "ESPRUINOBOARD.json", hashes: null, pbkdf2: false, aes: false,
    storageBytes: 20 * 1024, pageBytes: 2048, storageStart: 0x0803b000, vars: 2756, blockBytes: 13, layout: ARM12, consoleDevice: "USB",
    button: "BTN1", bangle: false, baseVars: 46, memoryMappedFlash: true, leds: ["LED1", "LED2", "LED3"], pinHw: { BTN1: ["B12", 28], LED1: ["A13", 13], LED2: ["A14", 14], LED3: ["A15", 15] }, rtc: "stm32", utf8: false, setTimeNoop: false, hwRandRepeats: false,
  },
  // The stock Linux build (`make BOARD=LINUX`): resizable heap (32-bit references, 27-byte blocks) that starts at
  // 4,096 variables and grows; the cap here is that start.
  linux: {
    name: "linux", envBoard: "LINUX", boardJson: "LINUX.json", hashes: ALL, pbkdf2: true, aes: true,
    storageBytes: 256 * 1024, pageBytes: 1024, storageStart: 0x10000000, vars: 4096, blockBytes: 27, layout: { refBits: 32, refcountBits: 8, packBits: 0, word64: true }, consoleDevice: "USB",
    button: undefined, bangle: false, baseVars: 55, memoryMappedFlash: false, leds: [], pinHw: {}, rtc: "host", utf8: true, setTimeNoop: true, hwRandRepeats: true,
  },
  // The same board file with 'variables': 2500 (../shared/espruino/espruino-linux-2500, BOARD LINUX_SMALL): a
  // Puck.js-size heap, but 64-bit, so 8-character names and 17-byte blocks where a Puck.js has 4 and 13.
  linux2500: {
    name: "linux2500", envBoard: "LINUX_SMALL", boardJson: "LINUX.json", hashes: ALL, pbkdf2: true, aes: true,
    storageBytes: 256 * 1024, pageBytes: 1024, storageStart: 0x10000000, vars: 2500, blockBytes: 17, layout: { refBits: 12, refcountBits: 8, packBits: 0, word64: true }, consoleDevice: "USB",
    button: undefined, bangle: false, baseVars: 46, memoryMappedFlash: false, leds: [], pinHw: {}, rtc: "host", utf8: true, setTimeNoop: true, hwRandRepeats: true,
  },
};

/** Is this a Linux build (no pins, host clock, Serial1 absent)? */
export function isLinux(b: BoardProfile): boolean {
  return b.rtc === "host";
}

export function getBoard(name: string | undefined): BoardProfile {
  const n = (name || "pico").toLowerCase();
  const b = (BOARDS as Record<string, BoardProfile>)[n];
  if (!b) throw new RangeError("Unknown board " + JSON.stringify(name) + "; expected one of " + Object.keys(BOARDS).join(", ") + ".");
  return b;
}
