// The board's pins as the program sees them: the button and the LEDs as Pin values (jswrap_pin.c), digitalRead
// and digitalWrite, and the button's state, which the host side presses.
import type { BoardProfile } from "./boards.ts";
import type { Define, DeviceCore } from "./core.ts";

/** Marks the emulator's Pin objects (value: the pin's key, BTN1, LED1…). */
const PIN_KEY = Symbol("hwtotp.pin");

/** Is `v` one of the emulator's Pin values? */
export function isPin(v: any): boolean {
  return !!(v && typeof v === "object" && v[PIN_KEY] !== undefined);
}

export class Pins {
  /** State of each pin the board has (its button and LEDs), by key. */
  private readonly state = new Map<string, boolean>();
  private lastButtonTime = 0;

  constructor(private readonly board: BoardProfile) {
    for (const p of [board.button, ...board.leds]) if (p) this.state.set(p, false);
  }

  /** Is the button held down? */
  buttonHeld(): boolean {
    const b = this.board.button;
    return !!(b && this.state.get(b));
  }

  /**
   * The button goes to `state` at device time `time`: null when it already was there, else the time of this
   * change and of the pin's previous one (Espruino's watch event time and lastTime).
   */
  setButton(state: boolean, time: number): { time: number; lastTime: number } | null {
    const b = this.board.button;
    if (!b) throw new Error("Board " + this.board.name + " has no button.");
    if (this.state.get(b) === state) return null;
    this.state.set(b, state);
    const lastTime = this.lastButtonTime || time;
    this.lastButtonTime = time;
    return { time: time, lastTime: lastTime };
  }

  /** Each LED: lit or not. */
  leds(): Record<string, boolean> {
    const o: Record<string, boolean> = {};
    for (const l of this.board.leds) o[l] = this.state.get(l)!;
    return o;
  }

  /** The emulator's key (BTN1, LED1…) of a pin given as a Pin, its number or its name ("D0", "BTN1"). */
  key(pin: unknown): string | undefined {
    if (pin && typeof pin === "object" && (pin as any)[PIN_KEY] !== undefined) return (pin as any)[PIN_KEY];
    for (const k of this.state.keys()) {
      const hw = this.board.pinHw[k];
      if (typeof pin === "number" && hw && hw[1] === pin) return k;
      if (typeof pin === "string" && (k === pin || (hw && hw[0] === pin))) return k;
    }
    return undefined;
  }

  /** BTN, BTN1, the LEDs (undefined where the board lacks them), digitalWrite and digitalRead. */
  install(core: DeviceCore, def: Define): void {
    const g = core.realm.global;
    for (const name of ["BTN", "BTN1", "LED1", "LED2", "LED3"]) def(name, undefined);
    for (const name of this.state.keys()) def(name, this.pinApi(core, name));
    if (this.board.button) def("BTN", g[this.board.button]);
    def("digitalWrite", (pin: any, v: unknown) => {
      const k = this.key(pin);
      if (k !== undefined && k !== this.board.button) this.state.set(k, !!v);
    });
    def("digitalRead", (pin: any) => {
      const k = this.key(pin);
      return k !== undefined && this.state.get(k) ? 1 : 0;
    });
  }

  private pinApi(core: DeviceCore, name: string): any {
    const pins = this.state;
    const button = this.board.button;
    const hw = this.board.pinHw[name] || [name, -1];
    // A Pin value (jswrap_pin.c): prints as its hardware name, converts to its index in arithmetic and `==`
    // (default hint), and is false under `if` when its index is 0 (transform.ts routes tests through
    // __espruinoBool). `"" + BTN` gives the index here where the device gives "D0": use String(BTN).
    const api: any = {
      read: () => pins.get(name)!,
      write: (v: unknown) => {
        if (name !== button) pins.set(name, !!v);
      },
      set: () => api.write(true),
      reset: () => api.write(false),
      toggle: () => {
        api.write(!pins.get(name));
        return pins.get(name)!;
      },
      mode: () => {},
      getMode: () => "input",
      getInfo: () => core.ctxValue({ num: hw[1] }),
      toString: () => hw[0],
      valueOf: () => hw[1],
    };
    Object.defineProperty(api, Symbol.toPrimitive, { value: (hint: string) => (hint === "string" ? hw[0] : hw[1]) });
    Object.defineProperty(api, PIN_KEY, { value: name });
    return api;
  }
}
