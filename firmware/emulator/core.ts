// What the modules that give the program its globals (ports.ts, pins.ts, timers.ts, storage-api.ts,
// crypto-api.ts, globals.ts) need from the device (device.ts): an interface, so that none of them imports the
// device and the device imports them all.
import type { BoardProfile } from "./boards.ts";
import type { VirtualClock } from "./clock.ts";
import type { HeapWalkOptions, Layout } from "./heap.ts";
import type { JsonRealm } from "./json.ts";
import type { Realm } from "./sandbox.ts";
import { fromLatin1, type Storage } from "./storage.ts";

export interface DeviceCore {
  readonly board: BoardProfile;
  readonly realm: Realm;
  readonly clock: VirtualClock;
  readonly storage: Storage;
  /** Block geometry of the board's interpreter. */
  readonly layout: Layout;
  /** process.memory().total: the variable cap. */
  readonly totalVars: number;
  /** Strings that are native/flash strings on the device (read from Storage): 1 block each. */
  readonly flashStrings: Set<string>;
  /** ArrayBuffers the API made (flat strings on the device). */
  readonly apiBuffers: WeakSet<object>;
  /** ArrayBuffers over an existing string (E.toArrayBuffer): the blocks of that string. */
  readonly backing: WeakMap<object, number>;
  /** E.on(…) listeners per event. */
  readonly events: Map<string, Function[]>;
  /** Name of the device the console is on ("null": none). */
  readonly consoleName: string;
  consoleWrite(s: string): void;
  setConsole(dev: unknown, force: boolean): void;
  /** An allocation of `blocks` through the API: throws Out of Memory when it does not fit. */
  alloc(blocks: number): void;
  /** An allocation of a string of `chars` characters. */
  inFlight(chars: number): void;
  /** Blocks of `v`'s graph that the program does not already hold. */
  transientBlocks(v: unknown): number;
  walkOptions(closures: boolean): HeapWalkOptions;
  measureHeap(): number;
  jsonRealm(): JsonRealm;
  /** Runs source as the interpreter would (`report`: errors printed on the console, not thrown). */
  evalSource(src: string, filename: string, report: boolean, flash?: boolean): unknown;
  /** reset(), load(), E.reboot(): the device boots again once the running task ends. */
  requestBoot(kind: "reset" | "load", file?: string): void;
  setEcho(on: boolean): void;
  /** Runs a Storage/Flash write: Storage errors become the program's Errors, the flash image is saved after. */
  storageCall<T>(fn: () => T): T;
  /** A copy of a plain value made of the realm's own objects. */
  ctxValue(v: unknown): any;
  /** An ArrayBuffer of the realm holding `bytes` (allocated on the device). */
  ctxBuffer(bytes: Uint8Array): ArrayBuffer;
  /** jsError: the device prints "ERROR: …" on its console and carries on (no exception). */
  jsError(msg: string): void;
}

/** Defines a global (or any member) as Espruino's built-ins are: writable, configurable, not enumerable. */
export type Define = (k: string, v: unknown) => void;

export function definer(o: object): Define {
  return (k, v) => {
    Object.defineProperty(o, k, { value: v, writable: true, configurable: true, enumerable: false });
  };
}

/** The bytes of a string (latin1), typed array, ArrayBuffer or array, as the API functions read their data. */
export function toBytes(d: unknown): Uint8Array {
  if (typeof d === "string") return fromLatin1(d);
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  if (Object.prototype.toString.call(d) === "[object ArrayBuffer]") return new Uint8Array(d as ArrayBuffer).slice();
  if (Array.isArray(d)) return Uint8Array.from(d, (x) => +x & 255);
  return fromLatin1(String(d));
}
