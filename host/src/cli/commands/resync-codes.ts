// hwtotp resync-codes [--name NAME]: codes of two consecutive steps, for a server that needs resyncing
// (Ceph RGW: prints the `radosgw-admin mfa resync` line to run as `hwtotp ceph resync` prints it: the two pins
// in a CEPH_ARGS prefix, never on radosgw-admin's argv; no seed).
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, say, withSession } from "../context.ts";

interface ResyncCliOptions extends CommonOptions {
  name?: string;
  uid?: string;
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command("resync-codes")
      .description("wait for the next step and print two consecutive codes per slot (and the radosgw-admin resync command for a Ceph slot)")
      .option("--name <name>", "only this slot (needed for a touch slot: press the button twice)")
      .option("--uid <uid>", "Ceph user id to put in the radosgw-admin command"),
  ).action(async (opts: ResyncCliOptions) => {
    const { resyncCodes } = await import("../../clock/index.ts");
    await withSession(opts, async (s) => {
      const pairs = await resyncCodes(s, {
        name: opts.name,
        uid: opts.uid,
        onWait: (sec, period) => say("Waiting " + sec.toFixed(1) + " s for the next " + period + " s step…"),
      });
      output(opts, { pairs }, () =>
        pairs
          .map(
            (p) =>
              p.name +
              ": " +
              p.codes[0] +
              " " +
              p.codes[1] +
              " (steps " +
              p.step +
              ", " +
              (p.step + 1) +
              ")" +
              (p.command ? "\n  " + p.command : ""),
          )
          .join("\n"),
      );
    });
  });
}
