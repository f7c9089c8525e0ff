// An in-process Link over any write/onData pair — the emulator's console port in the demo and in tests.
import type { HwtotpError } from "../errors.ts";
import { disconnectedError, type Link } from "./index.ts";

export interface PortLike {
  write(data: string): void;
  /** Subscribes; returns the unsubscribe function. */
  onData(cb: (data: string) => void): () => void;
}

export class MemoryLink implements Link {
  private dataCb: (chunk: string) => void = () => {};
  private closeCb: (err?: HwtotpError) => void = () => {};
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly port: PortLike,
    readonly address: string = "in-process",
  ) {}

  get isOpen(): boolean {
    return this.unsubscribe !== null;
  }

  async open(): Promise<void> {
    this.unsubscribe = this.port.onData((s) => this.dataCb(s));
  }

  async write(data: string): Promise<void> {
    if (!this.unsubscribe) throw disconnectedError(this.address, "not open");
    this.port.write(data);
  }

  onData(cb: (chunk: string) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: HwtotpError) => void): void {
    this.closeCb = cb;
  }

  /** The other end went away (e.g. the emulator stopped). */
  lost(why: string): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    const cb = this.closeCb;
    this.closeCb = () => {};
    cb(disconnectedError(this.address, why));
  }

  async close(): Promise<void> {
    if (!this.unsubscribe) return;
    this.unsubscribe();
    this.unsubscribe = null;
    const cb = this.closeCb;
    this.closeCb = () => {};
    cb(undefined);
  }
}
