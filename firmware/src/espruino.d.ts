// Ambient declarations for the slice of the Espruino 2v29 API the firmware uses (and the emulator provides).
// @types/espruino is from the 1v95 era and stale; this list is the contract between firmware and emulator.
// Adding a name here means: the real interpreter has it (see the Espruino reference), and the emulator must too.

interface EspruinoSerial {
  on(event: "data", cb: (data: string) => void): void;
  removeAllListeners(event?: string): void;
  write(data: string): void;
  setConsole(force?: boolean): void;
}

declare const USB: EspruinoSerial;
declare const Serial1: EspruinoSerial | undefined;
// Puck.js, Pixl.js, MDBT42Q: the console is "Bluetooth" when connected over BLE. Absent on boards without BLE.
declare const Bluetooth: EspruinoSerial | undefined;
declare const LoopbackA: EspruinoSerial;
declare const LoopbackB: EspruinoSerial;

interface EspruinoPin {
  read(): boolean;
  write(v: boolean): void;
}
declare const BTN: EspruinoPin | undefined;
declare const BTN1: EspruinoPin | undefined;
declare const LED1: EspruinoPin | undefined;
declare const LED2: EspruinoPin | undefined;

declare const E: {
  getConsole(): string | undefined;
  setConsole(dev: EspruinoSerial | string | null, opts?: { force?: boolean }): void;
  hwRand(): number;
  on(event: "init", cb: () => void): void;
  getSizeOf(v: unknown, depth?: number): number;
  toArrayBuffer(s: string): ArrayBuffer;
};

declare const process: {
  env: { VERSION: string; BOARD: string; [k: string]: unknown };
  memory(gc?: boolean): { free: number; usage: number; total: number; history: number; flash_code_start?: number };
  version: string;
};

declare function getTime(): number;
declare function setTime(t: number): void;
declare function setTimeout(cb: () => void, ms: number): number;
declare function clearTimeout(id: number): void;
declare function setInterval(cb: () => void, ms: number): number;
declare function clearInterval(id: number): void;
declare function setWatch(
  cb: (e: { state: boolean; time: number; lastTime: number }) => void,
  pin: EspruinoPin,
  opts?: { repeat?: boolean; edge?: "rising" | "falling" | "both"; debounce?: number },
): number;
declare function clearWatch(id?: number): void;
declare function digitalWrite(pin: EspruinoPin, v: boolean | number): void;
declare function digitalRead(pin: EspruinoPin): number;

interface EspruinoStorage {
  read(name: string, offset?: number, length?: number): string | undefined;
  readJSON(name: string, noExceptions?: boolean): unknown;
  readArrayBuffer(name: string): ArrayBuffer | undefined;
  write(name: string, data: string | ArrayBuffer | Uint8Array, offset?: number, size?: number): boolean;
  writeJSON(name: string, data: unknown): boolean;
  erase(name: string): void;
  list(regex?: RegExp | string): string[];
  compact(): void;
  getFree(): number;
}

interface EspruinoFlash {
  read(length: number, addr: number): Uint8Array;
  write(data: Uint8Array, addr: number): void;
  getPage(addr: number): { addr: number; length: number } | undefined;
  getFree(): { addr: number; length: number }[];
}

interface EspruinoCrypto {
  SHA1(data: string | ArrayBuffer | Uint8Array): ArrayBuffer;
  SHA256?(data: string | ArrayBuffer | Uint8Array): ArrayBuffer;
  SHA512?(data: string | ArrayBuffer | Uint8Array): ArrayBuffer;
}

declare function require(name: "Storage"): EspruinoStorage;
declare function require(name: "crypto"): EspruinoCrypto;
declare function require(name: "Flash"): EspruinoFlash;
declare function require(name: string): unknown;
