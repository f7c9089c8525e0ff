// hwtotp code [NAME]: the current code of one slot (on stdout alone, seconds left on stderr) or of all.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, deviceAccess, output, say, withSession } from "../context.ts";
import { UsageError } from "../../errors.ts";
import { checkName } from "../../../../protocol/index.ts";

export function register(program: Command): void {
  addCommonOptions(
    program
      .command("code")
      .argument("[name]", "slot name (default: every slot; touch slots need their name)")
      .description("show current codes, computed on the device at the device's clock")
      .option("--mfa-header <slot>", 'print "SERIAL PIN" for S3\'s x-amz-mfa: a pin never handed out before (Ceph issue)'),
  ).action(async (name: string | undefined, opts: CommonOptions & { mfaHeader?: string }) => {
    if (opts.mfaHeader !== undefined) {
      // "SERIAL PIN" (stdout alone) for clients that set x-amz-mfa: a pin never handed out before.
      const { dispenseMfaPin } = await import("../../integrations/ceph/mfa.ts");
      const pin = await dispenseMfaPin(deviceAccess(opts), { name: opts.mfaHeader, onWait: say });
      output(opts, { serial: pin.serial, pin: pin.pin, header: pin.header, step: pin.step, left: pin.left }, () => {
        say(pin.serial + ": " + Math.floor(pin.left) + " s left (step " + pin.step + "); this pin serves one request.");
        return pin.header;
      });
      return;
    }
    if (name !== undefined) {
      const bad = checkName(name, "slot name");
      if (bad) throw new UsageError(bad);
    }
    await withSession(opts, async (s, route) => {
      // a touch slot's wait is announced by the device itself (its press notice, printed by the session)
      const d = await (name === undefined ? s.code() : s.code(name));
      output(opts, { ...d, via: route.via }, () => {
        if (name !== undefined) {
          const c = d.codes[0];
          say(c.name + ": " + Math.floor(c.left) + " s left (step " + c.step + ")");
          return c.code ?? "";
        }
        if (!d.codes.length) return "No slots. Add one with `hwtotp add NAME --generate`.";
        const w = Math.max(...d.codes.map((c) => c.name.length));
        const cw = Math.max(...d.codes.map((c) => (c.code ?? "").length), 6);
        return d.codes
          .map(
            (c) =>
              c.name.padEnd(w) +
              "  " +
              (c.code === null
                ? "[touch]".padEnd(cw) + "  press the button: hwtotp code " + c.name
                : c.code.padEnd(cw) + "  " + Math.floor(c.left) + " s left"),
          )
          .join("\n");
      });
    });
  });
}
