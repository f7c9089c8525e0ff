// hwtotp lock: locks a token that has a PIN again (protocol op lock): it forgets the key the PIN unwrapped,
// so codes, the slot list and changes need `hwtotp unlock` first.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, say, withSession } from "../context.ts";

export function register(program: Command): void {
  addCommonOptions(
    program.command("lock").description("lock the token again (when it has a PIN): codes and changes then need `hwtotp unlock`"),
  ).action(async (opts: CommonOptions) => {
    await withSession(opts, async (s) => {
      const d = await s.lock();
      output(
        opts,
        d,
        () =>
          void say(
            d.set ? "Locked: `hwtotp unlock` opens it again." : "No PIN is set: there is nothing to lock (`hwtotp pin set` sets one).",
          ),
      );
    });
  });
}
