// Types of espruino-facts.mjs (the table itself is plain JS so the build's gate can read it without a compiler).
/** The typed arrays Espruino has. */
export declare const TYPED_ARRAYS: string[];
export declare const GLOBALS: string[];
export declare const BOARD_GLOBALS: string[];
export declare const MISSING_GLOBALS: string[];
export declare const MISSING_MEMBERS: [string, string][];
export declare const PRESENT_MEMBERS: [string, string][];
export declare const STATIC_MEMBERS: Record<string, string[]>;
export declare const MISSING_METHODS: string[];

// ---------------------------------------------------------------- board profiles

export type BoardName = "pico" | "puckjs" | "bangle2" | "original" | "linux" | "linux2500";

/**
 * How the board's interpreter lays out its variables (src/jsutils.h, src/jsvar.h): JsVarRef bits follow the
 * variable count (12 bits up to 4,095 variables, 13 to 8,191, 14 to 16,383; 32 on the resizable Linux build),
 * the reference counter takes what is left, and a name holds 4 characters on a 32-bit chip, 8 on a 64-bit
 * build. firmware/emulator/heap.ts derives from it the characters per name, string and string-extension
 * block, the block size, and which integers fit inside a name.
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
   * firmware/emulator/device.ts). False where Storage is read as flash strings through a buffer (Bangle.js 2's
   * SPI flash, Linux).
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

/** Figures: boards/*.py of Espruino 2v29 and the two Linux builds (process.memory(), process.env, getStats()). */
export declare const BOARDS: Record<BoardName, BoardProfile>;
/** The profile of a board by name (default pico); throws RangeError naming the boards there are. */
export declare function getBoard(name: string | undefined): BoardProfile;
