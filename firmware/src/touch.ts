// User presence: wait for a press of the board's button (BTN or BTN1) with the LED blinking, for a bounded
// time. Only one wait at a time; a second request gets E_BUSY from the caller.
// Pins are never tested for truthiness: Puck.js's BTN is D0, pin number 0, which older Espruino builds treat
// as false; only `typeof` and `=== undefined` decide. Espruino throws on clearTimeout/clearWatch of an id that
// already fired (Node ignores it), so each id is zeroed when it fires.

export const TOUCH_WAIT_MS = 15000;

let busy = false;

function button(): EspruinoPin | undefined {
  return typeof BTN !== "undefined" ? BTN : typeof BTN1 !== "undefined" ? BTN1 : undefined;
}

export function hasButton(): boolean {
  return button() !== undefined;
}

/** Calls done(true) on a press, done(false) after TOUCH_WAIT_MS. Returns false (and never calls done) if busy. */
export function waitTouch(done: (pressed: boolean) => void): boolean {
  const btn = button();
  if (busy || btn === undefined) return false;
  busy = true;
  const l = typeof LED1 !== "undefined" ? LED1 : undefined;
  let on = false;
  let watch = 0;
  let blink = 0;
  let timer = 0;
  function finish(pressed: boolean): void {
    if (!busy) return;
    busy = false;
    try {
      if (watch) clearWatch(watch);
    } catch (e) {
      watch = 0;
    }
    if (blink) clearInterval(blink);
    if (timer) clearTimeout(timer);
    if (l !== undefined) digitalWrite(l, 0);
    done(pressed);
  }
  if (l !== undefined) {
    blink = setInterval(function () {
      on = !on;
      digitalWrite(l, on);
    }, 250);
  }
  timer = setTimeout(function () {
    timer = 0;
    finish(false);
  }, TOUCH_WAIT_MS);
  watch = setWatch(function () {
    watch = 0;
    finish(true);
  }, btn, { repeat: false, edge: "rising", debounce: 25 });
  return true;
}
