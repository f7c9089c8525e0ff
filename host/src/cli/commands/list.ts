// hwtotp list: the slots on the token (names and parameters; the device never returns a seed).
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, withSession } from "../context.ts";

export function register(program: Command): void {
  addCommonOptions(program.command("list").description("list the token's slots")).action(async (opts: CommonOptions) => {
    await withSession(opts, async (s) => {
      const l = await s.list();
      output(opts, l, () => {
        if (!l.slots.length) return "No slots (0 of " + l.max + " used). Add one with `hwtotp add NAME --generate`.";
        const w = Math.max(4, ...l.slots.map((x) => x.name.length));
        const rows = l.slots.map(
          (x) =>
            x.name.padEnd(w) +
            "  " +
            x.alg.padEnd(6) +
            "  " +
            String(x.digits) +
            " digits  " +
            String(x.period).padStart(3) +
            " s" +
            (x.touch ? "  touch" : "") +
            (x.serial ? "  serial " + x.serial : ""),
        );
        return rows.join("\n") + "\n(" + l.slots.length + " of " + l.max + " slots used)";
      });
    });
  });
}
