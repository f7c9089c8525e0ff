// hwtotp delete NAME: removes a slot (its seed is gone for good; asks first on a terminal unless --force).
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, withSession } from "../context.ts";
import { UsageError } from "../../errors.ts";
import { checkName } from "../../../../protocol/index.ts";

export function register(program: Command): void {
  addCommonOptions(
    program
      .command("delete")
      .argument("<name>", "slot name")
      .option("-f, --force", "do not ask for confirmation")
      .description("delete a slot and its seed from the token"),
  ).action(async (name: string, opts: CommonOptions & { force?: boolean }) => {
    const bad = checkName(name, "slot name");
    if (bad) throw new UsageError(bad);
    if (!opts.force && process.stdin.isTTY && process.stderr.isTTY) {
      const { createInterface } = await import("node:readline/promises");
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question("Delete slot " + JSON.stringify(name) + " and its seed for good? [y/N] ");
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError("Not deleted.");
    }
    await withSession(opts, async (s) => {
      const d = await s.delete(name);
      output(opts, d, () => "Deleted slot " + JSON.stringify(d.name) + ".");
    });
  });
}
