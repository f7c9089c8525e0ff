// The boot guard, flashed as `.boot0`: Espruino runs .boot0 at every boot, also when the button is held (it
// then skips .bootcde and gives the REPL; docs/facts/espruino.md). So a held button at boot erases every
// hwtotp file (slots, PIN, clock) and compacts Storage before the REPL can be used: the token's factory reset.
// Bangle.js skips .boot0 too when BTN1 is held at first boot, so it gets no guard there.
import { button } from "./touch.ts";

function guardBoot(): void {
  const b = button();
  if (b === undefined || !digitalRead(b)) return;
  const st = require("Storage");
  const all = st.list(/^hwt\./);
  for (let k = 0; k < all.length; k++) st.erase(all[k]);
  st.compact();
}

guardBoot();
