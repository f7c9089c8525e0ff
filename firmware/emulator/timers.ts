// Time as the program sees it: getTime/setTime, the timers (setTimeout, setInterval, their clears,
// changeInterval) on the virtual RTC (clock.ts), and the watches on pins (setWatch, clearWatch).
import type { Define, DeviceCore } from "./core.ts";

/** getTime, setTime, setTimeout, setInterval, clearTimeout, clearInterval, changeInterval. */
export function installTimers(core: DeviceCore, def: Define): void {
  const clock = core.clock;
  def("getTime", () => clock.now());
  def("setTime", (t: number) => {
    if (!core.board.setTimeNoop) clock.setTime(+t);
  });
  const timer = (repeat: boolean) =>
    function (fn: unknown, ms?: number) {
      const extra = Array.prototype.slice.call(arguments, 2);
      const f = typeof fn === "function" ? fn : () => core.evalSource(String(fn), "timeout", true);
      return clock.add(() => (f as Function).apply(undefined, extra), ms || 0, repeat, f as Function, extra.length || undefined);
    };
  def("setTimeout", timer(false));
  def("setInterval", timer(true));
  // jswrap_interactive.c (_jswrap_interface_clearTimeoutOrInterval, 2v29): no argument clears all timers; an
  // explicit undefined throws "clearTimeout(undefined) not allowed. Use clearTimeout() instead"; an id that is not
  // running (never set, already fired, already cleared) is ignored (seen on the Linux build).
  const clear = (what: string) =>
    function (id?: number) {
      if (arguments.length === 0) clock.clearAll();
      else if (id === undefined)
        throw new core.realm.intrinsics.Error("clear" + what + "(undefined) not allowed. Use clear" + what + "() instead");
      else clock.clear(id);
    };
  def("clearTimeout", clear("Timeout"));
  def("clearInterval", clear("Interval"));
  def("changeInterval", (id: number, ms: number) => clock.change(id, ms));
}

export interface Watch {
  id: number;
  fn: (e: { state: boolean; time: number; lastTime: number }) => void;
  pin: string;
  repeat: boolean;
  edge: string;
  /** Debounce in ms (0: none). */
  debounce: number;
}

export class Watches {
  private watches: Watch[] = [];
  private nextId = 1;

  /** The live watches. */
  list(): readonly Watch[] {
    return this.watches;
  }

  /** Boot: every watch gone (their ids keep counting up). */
  clear(): void {
    this.watches = [];
  }

  /**
   * `pin` went to `state`: each watch on it whose edge matches gets `run` (a non-repeating one is removed first),
   * in the order they were set; a watch set or cleared by one of them does not change who else fires now.
   */
  fire(pin: string, state: boolean, run: (w: Watch) => void): void {
    for (const w of this.watches.slice()) {
      if (w.pin !== pin) continue;
      if (w.edge === "rising" && !state) continue;
      if (w.edge === "falling" && state) continue;
      if (!w.repeat) this.watches = this.watches.filter((x) => x !== w);
      run(w);
    }
  }

  /** setWatch and clearWatch; `pinKey` names the pin a setWatch gives (undefined: not a pin of the board). */
  install(core: DeviceCore, pinKey: (pin: unknown) => string | undefined, def: Define): void {
    const board = core.board;
    // jswrap_io.c (jswrap_interface_setWatch): options an object {repeat, edge, debounce} or a boolean (repeat);
    // on a built-in button the defaults are edge "rising" and debounce 25 ms, on other pins "both" and 0; edge may
    // be 1/-1/0 or "rising"/"falling"/"both", anything else is a TypeError. The callback gets {state, time, lastTime}.
    def("setWatch", (fn: any, pin: any, opts: any) => {
      const name = pinKey(pin);
      if (name === undefined) throw new core.realm.intrinsics.Error("Invalid pin " + String(pin));
      const isButton = name === board.button;
      let repeat = false;
      let edge = isButton ? "rising" : "both";
      let debounce = isButton ? 25 : 0;
      if (opts !== null && typeof opts === "object") {
        if (opts.repeat !== undefined) repeat = !!opts.repeat;
        if (opts.debounce !== undefined) debounce = +opts.debounce > 0 ? +opts.debounce : 0;
        const e = opts.edge;
        if (typeof e === "number") edge = e > 0 ? "rising" : e < 0 ? "falling" : "both";
        else if (e !== undefined) {
          if (e !== "rising" && e !== "falling" && e !== "both")
            throw new core.realm.global.TypeError("'edge' in setWatch should be 1, -1, 0, 'rising', 'falling' or 'both'");
          edge = e;
        }
      } else repeat = !!opts;
      if (typeof fn !== "function" && typeof fn !== "string") throw new core.realm.intrinsics.Error("Function or String not supplied!");
      const cb = typeof fn === "function" ? fn : () => core.evalSource(String(fn), "watch", true);
      const w: Watch = { id: this.nextId++, fn: cb, pin: name, repeat: repeat, edge: edge, debounce: debounce };
      this.watches.push(w);
      return w.id;
    });
    // jswrap_io.c (jswrap_interface_clearWatch): no argument clears all; an explicit undefined throws; an id that is
    // not a live watch (a non-repeating watch that fired is gone) throws Error "Unknown Watch <id>".
    const watches = this;
    def("clearWatch", function (id?: number) {
      if (arguments.length === 0) watches.watches = [];
      else if (id === undefined) throw new core.realm.intrinsics.Error("clearWatch(undefined) not allowed. Use clearWatch() instead");
      else {
        const n = watches.watches.length;
        watches.watches = watches.watches.filter((w) => w.id !== id);
        if (watches.watches.length === n) throw new core.realm.intrinsics.Error("Unknown Watch " + String(id));
      }
    });
  }
}
