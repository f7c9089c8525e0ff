// What `hwtotp pin …`, `unlock` and `lock` share: PIN options (SPEC is - or @FILE, the default a no-echo
// prompt; never the PIN itself on argv, read through secret-input.ts), the host-side check (protocol
// checkPin), --idle, the token's PIN state from hello, and how that state reads in a sentence.
import { type GuardState, type HelloData, LIMITS, type PinState, checkPin } from "../../../protocol/index.ts";
import { FirmwareError, UsageError } from "../errors.ts";
import { checkSecretSpec, readSecret } from "../secret-input.ts";
import type { Session } from "../session.ts";

export interface PinSource {
  /** The option's value: "-" or "@FILE"; undefined: prompt on the terminal. */
  spec: string | undefined;
  option: string;
  /** Prompt label, e.g. "PIN", "New PIN". */
  what: string;
  /** A new PIN: on the prompt it is asked twice. */
  confirm?: boolean;
}

const readOpts = (src: PinSource) => ({ what: src.what, option: src.option, literal: false, confirm: src.confirm });

/**
 * Refuses a bad SPEC (a PIN on argv, two PINs from stdin) before anything is read or sent. A prompt without
 * a terminal is refused when the PIN is read (unlock needs none when the token is unlocked already).
 */
export function checkPinSources(...srcs: PinSource[]): void {
  const fromStdin = srcs.filter((s) => s.spec === "-");
  if (fromStdin.length > 1)
    throw new UsageError("Only one of " + fromStdin.map((s) => s.option).join(" and ") + " can read stdin: give the other as @FILE.");
  for (const src of srcs) if (src.spec !== undefined) checkSecretSpec(src.spec, readOpts(src));
}

/** Reads one PIN and checks it as the device will (4–64 printable ASCII characters); the sentence never holds it. */
export async function readPin(src: PinSource): Promise<string> {
  const { value } = await readSecret(src.spec ?? true, readOpts(src));
  const bad = checkPin(
    value,
    src.what.replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase()),
  );
  if (bad) throw new UsageError(bad);
  return value;
}

/** --idle S: whole seconds, 0 (never) to LIMITS.IDLE_MAX. */
export function parseIdle(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = /^\d+$/.test(s.trim()) ? Number(s.trim()) : NaN;
  if (!Number.isInteger(n) || n > LIMITS.IDLE_MAX) {
    throw new UsageError("--idle must be a whole number of seconds from 0 (never lock when idle) to " + LIMITS.IDLE_MAX + ".");
  }
  return n;
}

/** The token's PIN state and guard (hello), or a FirmwareError when its firmware predates the PIN. */
export async function pinStateOf(s: Session): Promise<{ pin: PinState; guard: GuardState; hello: HelloData }> {
  const h = s.info ?? (await s.hello());
  if (!h.pin || !h.guard) {
    throw new FirmwareError("The token's firmware (" + h.fw + ") has no PIN: update it with `hwtotp flash`.");
  }
  return { pin: h.pin, guard: h.guard, hello: h };
}

/** "until a reset, a power cut, `hwtotp lock`, or 300 s without a request" */
export function untilText(p: PinState): string {
  return "until a reset, a power cut" + (p.idle > 0 ? ", `hwtotp lock`, or " + p.idle + " s without a request" : " or `hwtotp lock`");
}

/** One line for info: "set, unlocked, 8 of 8 tries left, locks after 300 s idle" or "not set". */
export function pinLine(p: PinState): string {
  if (!p.set) return "not set";
  return (
    "set, " +
    (p.locked ? "locked (`hwtotp unlock`)" : "unlocked") +
    ", " +
    p.tries +
    " of " +
    LIMITS.PIN_TRIES +
    " tries left, " +
    (p.idle > 0 ? "locks after " + p.idle + " s idle" : "no idle lock")
  );
}

export const UNGUARDED = "no button and no PIN: anyone who reaches the port can change or wipe it";

/** How changes are guarded, in one line; says plainly when nothing guards the token. */
export function guardLine(g: GuardState): string {
  if (g.button && g.pin) return "a press of the button and the PIN";
  if (g.button) return "a press of the button (no PIN)";
  if (g.pin) return "the PIN only (no button)";
  return "none: " + UNGUARDED;
}
