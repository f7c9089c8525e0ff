// User presence: wait for a press of the board's button (BTN or BTN1) with the LED blinking, for a bounded
// time. Only one wait at a time; a second request gets E_BUSY from the caller. A long wait (clock jumps,
// wipe) blinks fast and is confirmed only by a press held LIMITS.LONG_PRESS_MS or more: a short press,
// given for some other request the user thinks is waiting, never confirms it.
// Pins are never tested for truthiness: Puck.js's BTN is D0, pin number 0, which older Espruino builds treat
// as false; only `typeof` and `=== undefined` decide. Espruino throws on clearTimeout/clearWatch of an id that
// already fired (Node ignores it), so each id is zeroed when it fires.
import { LIMITS } from "../../protocol/index.ts";

export const TOUCH_WAIT_MS = 15000;

let busy = false;

export function button(): EspruinoPin | undefined {
  return typeof BTN !== "undefined" ? BTN : typeof BTN1 !== "undefined" ? BTN1 : undefined;
}

/**
 * Calls done(true) on a press (held LONG_PRESS_MS or more when `long`), done(false) after TOUCH_WAIT_MS.
 * Returns false (and never calls done) if busy or without a button.
 */
export function waitTouch(long: boolean, done: (pressed: boolean) => void): boolean {
  const btn = button();
  if (busy || btn === undefined) return false;
  busy = true;
  const l = typeof LED1 !== "undefined" ? LED1 : undefined;
  let on = false;
  let watch = 0;
  let blink = 0;
  let timer = 0;
  let down = -1;
  function finish(pressed: boolean): void {
    if (!busy) return;
    busy = false;
    try {
      if (watch) clearWatch(watch);
    } catch (e) {}
    if (blink) clearInterval(blink);
    if (timer) clearTimeout(timer);
    if (l !== undefined) digitalWrite(l, 0);
    done(pressed);
  }
  if (l !== undefined) {
    blink = setInterval(
      function () {
        on = !on;
        digitalWrite(l, on);
      },
      long ? 100 : 250,
    );
  }
  timer = setTimeout(function () {
    timer = 0;
    finish(false);
  }, TOUCH_WAIT_MS);
  watch = setWatch(
    function (e) {
      const t = e && typeof e.time === "number" ? e.time : getTime();
      if (e.state) {
        down = t;
        if (!long) {
          watch = 0;
          finish(true);
        }
      } else if (down >= 0 && (t - down) * 1000 >= LIMITS.LONG_PRESS_MS) {
        finish(true);
      } else down = -1;
    },
    btn,
    { repeat: long, edge: long ? "both" : "rising", debounce: 25 },
  );
  return true;
}
