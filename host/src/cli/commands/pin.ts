// hwtotp pin set|change|clear: the token's optional PIN (protocol op pin). The PIN is read from a no-echo
// prompt (a new one twice), from stdin (-) or from a file (@FILE), never from argv; it is checked here as
// the device checks it, and goes to the device and nowhere else. The device asks for a press first.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, say, withSession } from "../context.ts";
import { UsageError } from "../../errors.ts";
import { UNGUARDED, checkPinSources, parseIdle, pinStateOf, readPin, untilText } from "../pin-input.ts";
import type { PinState } from "../../../../protocol/index.ts";

interface PinOptions extends CommonOptions {
  pin?: string;
  newPin?: string;
  idle?: string;
}

const SPEC = "- (read it from stdin) or @FILE; default: asked on the terminal (no echo)";
const IDLE = "lock again after this many seconds without a request (0: only a reset, a power cut or `hwtotp lock`)";

export function register(program: Command): void {
  const pin = program
    .command("pin")
    .description("set, change or clear the token's PIN (read from a prompt, - or @FILE; never from the command line)");

  addCommonOptions(
    pin
      .command("set")
      .description("set a PIN: codes, the slot list and changes then need `hwtotp unlock`, and the seeds are sealed under it")
      .option("--pin <spec>", "the new PIN: " + SPEC + ", twice")
      .option("--idle <seconds>", IDLE + " (default 0)"),
  ).action(async (opts: PinOptions) => {
    const idle = parseIdle(opts.idle);
    const next = { spec: opts.pin, option: "--pin", what: "New PIN", confirm: true };
    checkPinSources(next);
    await withSession(opts, async (s) => {
      const { pin: st } = await pinStateOf(s);
      if (st.set) throw new UsageError("A PIN is set already: change it with `hwtotp pin change`, or clear it with `hwtotp pin clear`.");
      const d = await s.pin({ next: await readPin(next), idle });
      output(opts, d, () => void say("PIN set: the token is unlocked " + untilText(d) + "; then `hwtotp unlock` opens it again."));
    });
  });

  addCommonOptions(
    pin
      .command("change")
      .description("change the PIN (or, with --idle alone, only the idle time)")
      .option("--pin <spec>", "the current PIN: " + SPEC)
      .option("--new-pin <spec>", "the new PIN: " + SPEC + ", twice")
      .option("--idle <seconds>", IDLE + " (default: kept)"),
  ).action(async (opts: PinOptions) => {
    const idle = parseIdle(opts.idle);
    // --idle without --new-pin changes only the idle time: the PIN is "changed" to itself.
    const idleOnly = idle !== undefined && opts.newPin === undefined;
    const cur = { spec: opts.pin, option: "--pin", what: "Current PIN" };
    const next = { spec: opts.newPin, option: "--new-pin", what: "New PIN", confirm: true };
    checkPinSources(...(idleOnly ? [cur] : [cur, next]));
    await withSession(opts, async (s) => {
      const { pin: st } = await pinStateOf(s);
      if (!st.set) throw new UsageError("No PIN is set: set one with `hwtotp pin set`.");
      const old = await readPin(cur);
      const d = await s.pin({ pin: old, next: idleOnly ? old : await readPin(next), idle });
      output(opts, d, () => void say((idleOnly ? "Idle time set" : "PIN changed") + ": the token is unlocked " + untilText(d) + "."));
    });
  });

  addCommonOptions(
    pin
      .command("clear")
      .description("clear the PIN: the token needs no unlock any more, and its seeds are no longer sealed")
      .option("--pin <spec>", "the current PIN: " + SPEC),
  ).action(async (opts: PinOptions) => {
    const cur = { spec: opts.pin, option: "--pin", what: "PIN" };
    checkPinSources(cur);
    await withSession(opts, async (s) => {
      const { pin: st, guard } = await pinStateOf(s);
      if (!st.set) throw new UsageError("No PIN is set: there is nothing to clear.");
      const d: PinState = await s.pin({ pin: await readPin(cur) });
      output(opts, d, () => {
        say("PIN cleared: codes need no unlock, and the flash holds the slots' pads unsealed (as good as the seeds).");
        if (!guard.button) say("Warning: " + UNGUARDED + ".");
      });
    });
  });
}
