// A device clock simulated in plain TypeScript, on virtual time, with the semantics the firmware's
// clock.ts implements (drift-corrected clock, bias, jump bound, button; not its forward room or the
// guard after a move back): lets the host-side policy be
// tested without the emulator. The emulator suites run the same scenarios against the real firmware.
import { ERR, LIMITS, type ClockData, type SetTimeData } from "../../protocol/index.ts";
import type { ClockPort, ClockSetArgs } from "../../host/src/clock/index.ts";

export class DeviceError extends Error {
  constructor(public code: string, message: string) {
    super(message);
  }
}

export class SimDevice implements ClockPort {
  /** True (host) time, Unix seconds. */
  trueTime: number;
  /** RTC drift, ppm (positive: fast). */
  drift: number;
  private raw: number;
  private refRaw = 0;
  private ref: number | null = null;
  ppm = 0;
  err = 0;
  samples = 0;
  bias = 0;
  /** Latency each way of every exchange, s (a function to add jitter). */
  latency: () => number = () => 0.002;
  /** Whether the button will be pressed while the device waits for it. */
  willPress = false;
  /** Slots on the device: while it has any, setting a lost (unset) clock is a jump, as in the firmware. */
  slots = 0;
  writes = 0;

  constructor(start: number, drift: number, rawStart = start) {
    this.trueTime = start;
    this.drift = drift;
    this.raw = rawStart;
  }

  advance(seconds: number): void {
    this.trueTime += seconds;
    this.raw += seconds * (1 + this.drift * 1e-6);
  }

  powerLoss(): void {
    this.raw = 0;
  }

  isSet(): boolean {
    return this.raw >= LIMITS.CLOCK_MIN;
  }

  corrected(): number {
    if (this.ref === null) return this.raw;
    return this.ref + (this.raw - this.refRaw) / (1 + this.ppm * 1e-6);
  }

  /** The time codes are computed at. */
  now(): number {
    return this.corrected() - this.bias;
  }

  private data(): ClockData {
    return { set: this.isSet(), t: this.now(), raw: this.raw, ppm: this.ppm, synced: this.isSet() ? this.ref : null, samples: this.samples, bias: this.bias, err: this.err };
  }

  async time(): Promise<ClockData> {
    this.advance(this.latency());
    const d = this.data();
    this.advance(this.latency());
    return d;
  }

  async setTime(a: ClockSetArgs): Promise<SetTimeData> {
    this.advance(this.latency());
    const prev = this.now();
    const jump = this.isSet() ? Math.abs(a.t - this.corrected()) > LIMITS.JUMP_MAX : this.slots > 0;
    if (jump && !a.force) throw new DeviceError(ERR.JUMP, "jump");
    if (jump && !this.willPress) throw new DeviceError(ERR.TOUCH, "no press");
    this.raw = a.t;
    this.refRaw = a.t;
    this.ref = a.t;
    if (a.ppm !== undefined) this.ppm = a.ppm;
    if (a.err !== undefined) this.err = a.err;
    if (a.samples !== undefined) this.samples = a.samples;
    if (a.bias !== undefined) this.bias = a.bias;
    this.writes++;
    const r = { prev, t: this.now(), jump };
    this.advance(this.latency());
    return r;
  }
}
