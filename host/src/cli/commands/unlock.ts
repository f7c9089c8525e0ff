// hwtotp unlock: opens a token that has a PIN (protocol op unlock) for codes, the slot list and changes.
// The unlocked state lives in the device's RAM: it outlasts this command, and ends with a reset, a power
// cut, `hwtotp lock` or the idle time. The PIN comes from a prompt, - or @FILE, never from argv.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, say, withSession } from "../context.ts";
import { checkPinSources, pinStateOf, readPin, untilText } from "../pin-input.ts";

export function register(program: Command): void {
  addCommonOptions(
    program
      .command("unlock")
      .description("unlock a token that has a PIN (a wrong PIN costs one of its 8 tries)")
      .option("--pin <spec>", "the PIN: - (read it from stdin) or @FILE; default: asked on the terminal (no echo)"),
  ).action(async (opts: CommonOptions & { pin?: string }) => {
    const src = { spec: opts.pin, option: "--pin", what: "PIN" };
    checkPinSources(src);
    await withSession(opts, async (s) => {
      const { pin: st } = await pinStateOf(s);
      // Nothing to try: no PIN is asked for, and no try spent.
      if (!st.set || !st.locked) {
        output(
          opts,
          st,
          () => void say(st.set ? "The token is unlocked already (" + untilText(st) + ")." : "No PIN is set: the token needs no unlock."),
        );
        return;
      }
      const d = await s.unlock(await readPin(src));
      output(opts, d, () => void say("Unlocked " + untilText(d) + "."));
    });
  });
}
