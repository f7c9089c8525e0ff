// hwtotp time [sync]: the device clock against the host's (best of several exchanges, NTP-style), the
// drift the device corrects, and `sync`, which sets it within the policy of host/src/clock/policy.ts.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, say, UsageError, withSession } from "../context.ts";
import { ClockError } from "../../errors.ts";

interface TimeOptions extends CommonOptions {
  exchanges?: string;
}

interface SyncCliOptions extends TimeOptions {
  maxJump?: string;
  force?: boolean;
}

function exchangesOf(opts: TimeOptions): number {
  const n = opts.exchanges === undefined ? 8 : Number(opts.exchanges);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError("--exchanges must be a whole number from 1 to 64.");
  return n;
}

export function register(program: Command): void {
  const time = addCommonOptions(
    program
      .command("time")
      .description("compare the device clock with this host's: offset ± uncertainty, round trip, drift, last sync (see `time sync`)")
      .option("--exchanges <n>", "time requests to make; the one with the smallest round trip counts (default 8)"),
  ).action(async (opts: TimeOptions) => {
    const { measureOffset, checkHostClock, timeJson, timeHuman } = await import("../../clock/index.ts");
    const exchanges = exchangesOf(opts);
    await withSession(opts, async (s) => {
      const [m, hc] = await Promise.all([measureOffset(s, { exchanges }), checkHostClock()]);
      const j = timeJson(m, hc);
      output(opts, j, () => timeHuman(j));
    });
  });
  addCommonOptions(
    time
      .command("sync")
      .description("set the device clock from this host's and refine its drift estimate")
      .option("--max-jump <seconds>", "a larger correction is a jump: it needs --force and a press on the device (default 120)")
      .option("--force", "allow a jump; the device waits for its button")
      .option("--exchanges <n>", "time requests per measurement (default 8)"),
  ).action(async (opts: SyncCliOptions) => {
    const { syncClock, syncJson, syncHuman } = await import("../../clock/index.ts");
    const exchanges = exchangesOf(opts);
    let maxJump: number | undefined;
    if (opts.maxJump !== undefined) {
      maxJump = Number(opts.maxJump);
      if (!isFinite(maxJump) || maxJump < 0) throw new UsageError("--max-jump must be a number of seconds, 0 or more.");
    }
    await withSession(opts, async (s) => {
      const r = await syncClock(s, {
        exchanges,
        maxJump,
        force: !!opts.force,
        onPlan: (p) => {
          if (p.action === "jump")
            say(
              "The correction of " +
                p.correction.toFixed(1) +
                " s is a jump: the device asks for a long press of its button to confirm it.",
            );
          else if (opts.force && p.action === "set" && !p.sample.ok && p.sample.reason === "device clock was unset")
            say("The device clock is unset: if the device blinks (it lost its clock while holding slots), press its button to confirm.");
          else if (opts.force && p.action === "set" && p.correction > 0)
            say("If the device blinks, press its button to confirm the correction.");
        },
      });
      for (const w of r.warnings) say("Warning: " + w);
      if (r.plan.lost)
        throw new ClockError(
          "E_JUMP",
          "The device lost its clock (a power cut, or never set) and holds slots, so setting it is a jump: run `hwtotp " +
            "time sync --force` and press the button on the device.",
        );
      if (r.plan.action === "refuse") {
        const off = r.plan.correction > 0 ? r.plan.correction.toFixed(1) + " s behind" : (-r.plan.correction).toFixed(1) + " s ahead";
        throw new ClockError("E_JUMP", "The device clock is " + off + ": " + r.plan.reason + ".");
      }
      if (r.plan.action === "discard") throw new ClockError("E_CLOCK", "Sync discarded: " + r.plan.reason + ".");
      const j = syncJson(r);
      output(opts, j, () => syncHuman(j));
    });
  });
}
