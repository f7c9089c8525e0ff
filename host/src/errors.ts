// The host's error tree (after yubikit's): one base class, a few kinds, each with the exit code the CLI uses.
// Errors carry flags (`disconnected`) so callers need no class checks across module boundaries.
import { ERR } from "../../protocol/index.ts";

/** Documented exit codes (docs/cli.md, "Exit codes"). `hwtotp exec` passes its child's code through instead. */
export const EXIT = {
  OK: 0,
  ERROR: 1, // unexpected failure (a bug, a bad reply)
  USAGE: 2, // bad option or input: malformed secret, bad URI, bad name, unknown command
  NO_DEVICE: 3, // no device found, cannot connect, disconnected, timed out
  FIRMWARE: 4, // not our firmware (plain Espruino REPL) or another protocol version: run `hwtotp flash`
  NO_SLOT: 5, // no slot with that name
  REFUSED: 6, // the device refused to store: slot exists, device full, storage failed, algorithm unsupported
  CLOCK: 7, // device clock unset, or a clock change refused / needing a button press
  TOUCH: 8, // button not pressed in time, or the device is busy waiting for one
  PIN: 9, // wrong PIN, or PIN locked
  KEYSTONE: 10, // Keystone refused a request or could not be reached; an enrolment rolled back
  NOT_ENFORCED: 11, // enrolled, but password alone (or a code alone) still logs in: MFA is not enforced
  CEPH: 12, // RGW refused a pin, or radosgw-admin failed
  DENIED: 13, // the daemon refused: its policy does not allow the request (E_DENIED), or a cap was reached (E_LIMIT)
} as const;

/** Base of every error the host raises on purpose. `message` is one sentence, safe to print (never a secret). */
export class HwtotpError extends Error {
  exitCode: number = EXIT.ERROR;
  /** True when the link to the device went away (unplug, emulator killed, daemon gone). */
  disconnected = false;
  /** Stable code: a device code (E_NOSLOT…) or a host one (E_NODEVICE, E_TIMEOUT…). */
  code: string = "E_HOST";
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input from the user, caught before anything reached the device. */
export class UsageError extends HwtotpError {
  constructor(message: string) {
    super(message);
    this.exitCode = EXIT.USAGE;
    this.code = "E_USAGE";
  }
}

/** No device to talk to: none found, several found, cannot open, closed under us. */
export class DeviceNotFoundError extends HwtotpError {
  constructor(message: string, disconnected = false) {
    super(message);
    this.exitCode = EXIT.NO_DEVICE;
    this.code = disconnected ? "E_DISCONNECTED" : "E_NODEVICE";
    this.disconnected = disconnected;
  }
}

export class TimeoutError extends HwtotpError {
  constructor(message: string) {
    super(message);
    this.exitCode = EXIT.NO_DEVICE;
    this.code = "E_TIMEOUT";
  }
}

/** A reply we cannot understand. */
export class BadResponseError extends HwtotpError {
  constructor(message: string) {
    super(message);
    this.exitCode = EXIT.ERROR;
    this.code = "E_BADREPLY";
  }
}

/** The other end is not hwtotp firmware of our protocol version (or is a bare REPL). */
export class FirmwareError extends HwtotpError {
  repl: boolean;
  deviceProtocol: number | null;
  constructor(message: string, opts: { repl?: boolean; deviceProtocol?: number | null } = {}) {
    super(message);
    this.exitCode = EXIT.FIRMWARE;
    this.code = opts.repl ? "E_REPL" : ERR.VERSION;
    this.repl = !!opts.repl;
    this.deviceProtocol = opts.deviceProtocol ?? null;
  }
}

const DEVICE_EXIT: { [code: string]: number } = {
  [ERR.FRAME]: EXIT.ERROR,
  [ERR.VERSION]: EXIT.FIRMWARE,
  [ERR.OP]: EXIT.FIRMWARE,
  [ERR.ARG]: EXIT.USAGE,
  [ERR.NOSLOT]: EXIT.NO_SLOT,
  [ERR.EXISTS]: EXIT.REFUSED,
  [ERR.FULL]: EXIT.REFUSED,
  [ERR.ALG]: EXIT.REFUSED,
  [ERR.STORAGE]: EXIT.REFUSED,
  [ERR.CLOCK]: EXIT.CLOCK,
  [ERR.JUMP]: EXIT.CLOCK,
  [ERR.TOUCH]: EXIT.TOUCH,
  [ERR.BUSY]: EXIT.TOUCH,
  [ERR.PIN]: EXIT.PIN,
  [ERR.LOCKED]: EXIT.PIN,
  [ERR.INTERNAL]: EXIT.ERROR,
  E_NODEVICE: EXIT.NO_DEVICE, // from the daemon: it has no device right now
  E_DENIED: EXIT.DENIED, // from the daemon: its policy refuses this caller the request
  E_LIMIT: EXIT.DENIED, // from the daemon: a cap (connections, queued requests); the sentence names it
  E_TIMEOUT: EXIT.NO_DEVICE,
  E_DISCONNECTED: EXIT.NO_DEVICE,
  E_REPL: EXIT.FIRMWARE,
  E_USAGE: EXIT.USAGE,
};

/** The device (or the daemon on its behalf) answered with an error code. */
export class DeviceError extends HwtotpError {
  /** The error reply's data (E_PIN: {tries, wiped}), passed on as it came; never holds a secret. */
  data?: { [k: string]: unknown };
  constructor(code: string, message: string, data?: { [k: string]: unknown }) {
    super(message || "The device refused the request (" + code + ").");
    this.code = code;
    this.exitCode = DEVICE_EXIT[code] ?? EXIT.ERROR;
    this.disconnected = code === "E_DISCONNECTED" || code === "E_NODEVICE";
    if (data) this.data = data;
  }
}
export class NoSuchSlotError extends DeviceError {}
export class SlotExistsError extends DeviceError {}
export class DeviceFullError extends DeviceError {}
export class ClockError extends DeviceError {}
export class TouchTimeoutError extends DeviceError {}

/**
 * A wrong PIN (E_PIN): `tries` left before the token wipes itself, `wiped` when that was the last one. The
 * sentence is the host's, from the reply's data (the device's own may be terser); it never holds the PIN.
 */
export class PinError extends DeviceError {
  tries: number | null;
  wiped: boolean;
  constructor(code: string, message: string, data?: { [k: string]: unknown }) {
    const tries = typeof data?.tries === "number" && data.tries >= 0 ? Math.floor(data.tries) : null;
    const wiped = data?.wiped === true;
    super(code, code === ERR.PIN ? pinSentence(tries, wiped, message) : message, data);
    this.tries = tries;
    this.wiped = wiped;
  }
}

/** The token has a PIN and this session is locked (E_LOCKED): `hwtotp unlock` first. */
export class LockedError extends PinError {
  constructor(code: string, message: string, data?: { [k: string]: unknown }) {
    super(
      code,
      "The token is locked: run `hwtotp unlock` first (it stays unlocked until a reset, a power cut, `hwtotp lock` or its idle time).",
      data,
    );
  }
}

function pinSentence(tries: number | null, wiped: boolean, said: string): string {
  if (wiped) return "Wrong PIN, and that was the last try: the token wiped every slot and its PIN.";
  if (tries === null) return said || "Wrong PIN.";
  return tries === 1 ? "Wrong PIN: 1 try left; one more wrong PIN wipes every slot and the PIN." : "Wrong PIN: " + tries + " tries left.";
}

const DEVICE_CLASS: { [code: string]: new (code: string, m: string, d?: { [k: string]: unknown }) => DeviceError } = {
  [ERR.NOSLOT]: NoSuchSlotError,
  [ERR.EXISTS]: SlotExistsError,
  [ERR.FULL]: DeviceFullError,
  [ERR.CLOCK]: ClockError,
  [ERR.JUMP]: ClockError,
  [ERR.TOUCH]: TouchTimeoutError,
  [ERR.BUSY]: TouchTimeoutError,
  [ERR.PIN]: PinError,
  [ERR.LOCKED]: LockedError,
};

export function deviceError(code: string, message: string, data?: { [k: string]: unknown }): DeviceError {
  const C = DEVICE_CLASS[code] ?? DeviceError;
  return new C(code, message, data);
}

/** Exit code for anything thrown. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof HwtotpError) return err.exitCode;
  return EXIT.ERROR;
}
