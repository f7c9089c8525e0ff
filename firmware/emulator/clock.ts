// Virtual RTC and timer queue. The RTC counts device milliseconds: in "real" mode they follow the host's
// monotonic clock scaled by (1 + ppm/1e6); in "frozen" mode they move only through advance(). getTime() is
// the RTC plus an offset that setTime() moves; timers run on the RTC ticks, so setTime() re-bases them.

export interface Timer {
  id: number;
  due: number; // device ticks (ms)
  interval: number; // 0 for setTimeout
  fn: () => void;
  /** The program's own callback (heap root). */
  user?: Function;
  /** Extra arguments given to setTimeout/setInterval (kept in an "args" array on the device). */
  args?: number;
}

export class VirtualClock {
  /** Device ticks (ms since power-up, drift included) at hostRef. */
  private ticksAtRef = 0;
  private hostRef = performance.now();
  /** getTime() = ticks/1000 + offset. */
  offset = 0;
  ppm = 0;
  frozen: boolean;
  private timers: Timer[] = [];
  private nextId = 1;
  private hostTimer: NodeJS.Timeout | null = null;
  /** Called to run a due timer callback as a device task. */
  runTask: (fn: () => void) => void = (fn) => fn();
  running = false;

  constructor(opts: { frozen?: boolean; ppm?: number }) {
    this.frozen = !!opts.frozen;
    this.ppm = opts.ppm || 0;
  }

  ticks(): number {
    if (this.frozen) return this.ticksAtRef;
    return this.ticksAtRef + (performance.now() - this.hostRef) * (1 + this.ppm / 1e6);
  }

  private rebase(): void {
    this.ticksAtRef = this.ticks();
    this.hostRef = performance.now();
  }

  now(): number {
    return this.ticks() / 1000 + this.offset;
  }

  /** setTime(): moves the wall clock, timers keep their remaining delay. */
  setTime(t: number): void {
    this.offset = t - this.ticks() / 1000;
  }

  setDrift(ppm: number): void {
    this.rebase();
    this.ppm = ppm;
    this.schedule();
  }

  setFrozen(frozen: boolean): void {
    this.rebase();
    this.frozen = frozen;
    this.schedule();
  }

  /** Power-up: ticks restart at 0; the wall clock restarts at `t` (0 on a board that lost its RTC). */
  powerUp(t: number): void {
    this.ticksAtRef = 0;
    this.hostRef = performance.now();
    this.offset = t;
    this.clearAll();
  }

  add(fn: () => void, ms: number, repeat: boolean, user?: Function, args?: number): number {
    const delay = Math.max(0, +ms || 0);
    const t: Timer = {
      id: this.nextId++,
      due: this.ticks() + delay,
      interval: repeat ? Math.max(delay, 1) : 0,
      fn: fn,
      user: user,
      args: args,
    };
    this.timers.push(t);
    this.schedule();
    return t.id;
  }

  clear(id: number): boolean {
    const i = this.timers.findIndex((t) => t.id === id);
    if (i < 0) return false;
    this.timers.splice(i, 1);
    this.schedule();
    return true;
  }

  clearAll(): void {
    this.timers = [];
    this.schedule();
  }

  /** Callbacks of the timers (heap roots). */
  timerList(): readonly Timer[] {
    return this.timers;
  }

  timerFns(): Function[] {
    return this.timers.map((t) => t.user || t.fn);
  }

  /** changeInterval(id, ms): the next call is `ms` from now. */
  change(id: number, ms: number): void {
    const t = this.timers.find((x) => x.id === id);
    if (!t) return;
    t.interval = Math.max(1, +ms || 0);
    t.due = this.ticks() + t.interval;
    this.schedule();
  }

  pending(): number {
    return this.timers.length;
  }

  private nextDue(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers) if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }

  private fire(t: Timer): void {
    if (t.interval > 0) t.due += t.interval;
    else this.timers.splice(this.timers.indexOf(t), 1);
    this.runTask(t.fn);
  }

  /** Runs every timer due now (real mode), then re-arms the host timer for the next one. */
  private tick = (): void => {
    this.hostTimer = null;
    if (!this.running) return;
    let guard = 10000;
    for (let t = this.nextDue(); t && t.due <= this.ticks() && guard-- > 0; t = this.nextDue()) this.fire(t);
    this.schedule();
  };

  schedule(): void {
    if (this.hostTimer) {
      clearTimeout(this.hostTimer);
      this.hostTimer = null;
    }
    if (!this.running || this.frozen) return;
    const t = this.nextDue();
    if (!t) return;
    const ms = Math.max(0, (t.due - this.ticks()) / (1 + this.ppm / 1e6));
    this.hostTimer = setTimeout(this.tick, Math.min(ms, 2 ** 31 - 1));
    this.hostTimer.unref?.();
  }

  /** Fast-forward: moves the RTC by `seconds`, firing every timer due on the way at its own tick. */
  advance(seconds: number): void {
    this.rebase();
    const end = this.ticksAtRef + seconds * 1000;
    let guard = 1000000;
    for (let t = this.nextDue(); t && t.due <= end && guard-- > 0; t = this.nextDue()) {
      this.ticksAtRef = Math.max(this.ticksAtRef, t.due);
      this.hostRef = performance.now();
      this.fire(t);
    }
    this.ticksAtRef = end;
    this.hostRef = performance.now();
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.schedule();
  }
}
