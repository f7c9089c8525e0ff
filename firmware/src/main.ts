// Boot (stored as .bootcde, so holding the button at boot skips it and gives the REPL back): load the slot
// store and the clock, detect the hashes, move the REPL to LoopbackA and serve the protocol on the device the
// console was on (USB on a Pico and on the Linux build; Serial1 or Bluetooth elsewhere).
import { ERR, MAX_REQUEST_LINE, createLineReader, encodeError } from "../../protocol/index.ts";
import { detectHashes, type CryptoLike } from "./hmac.ts";
import { loadClock } from "./clock.ts";
import { loadSlots } from "./store.ts";
import { loadPin } from "./pin.ts";
import { handleLine, setHashes } from "./dispatch.ts";

// One function for the whole boot: each function held from boot costs heap variables on the device.
function boot(): void {
  let c: CryptoLike | undefined;
  try {
    c = (require("crypto") as unknown as CryptoLike | undefined) || undefined;
  } catch (e) {
    c = undefined;
  }
  const h = detectHashes(c);
  setHashes(h);
  loadSlots();
  loadPin(c, h);
  loadClock();
  // the device the console was on at boot: Serial1 or Bluetooth when named, else USB, else Bluetooth, else Serial1
  const name = E.getConsole();
  const port: EspruinoSerial =
    name === "Serial1" && typeof Serial1 !== "undefined"
      ? Serial1
      : name !== "Bluetooth" && typeof USB !== "undefined"
        ? USB
        : typeof Bluetooth !== "undefined"
          ? Bluetooth
          : (Serial1 as EspruinoSerial);
  const send = function (s: string) {
    port.write(s);
  };
  const reader = createLineReader(
    MAX_REQUEST_LINE,
    function (line: string) {
      handleLine(line, send);
    },
    function () {
      send(encodeError(null, ERR.FRAME, "Line over " + MAX_REQUEST_LINE + " characters."));
    },
  );
  E.setConsole(LoopbackA, { force: true });
  port.on("data", function (d: string) {
    reader.push(d);
  });
}

boot();
