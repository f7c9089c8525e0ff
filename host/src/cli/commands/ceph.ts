// hwtotp ceph enroll | check | resync — the Ceph RGW MFA integration's CLI. It parses options and prints;
// the work is in host/src/integrations/ceph/. Without --run, the radosgw-admin command is printed for a
// Ceph admin host; with --run it is run here (radosgw-admin on PATH, --conf passed through).
import type { Command } from "commander";
import { EXIT, HwtotpError, UsageError } from "../../errors.ts";
import { addCommonOptions, type CommonOptions, output, say, withSession } from "../context.ts";
import { dispenseForCli, pickMfaSlot } from "./s3.ts";

/** Exit code when RGW refused a pin or radosgw-admin failed (errors.ts EXIT.CEPH). */
export const CEPH_EXIT_REFUSED = EXIT.CEPH;

export class CephCliError extends HwtotpError {
  constructor(message: string, code = "E_CEPH") {
    super(message);
    this.exitCode = CEPH_EXIT_REFUSED;
    this.code = code;
  }
}

interface AdminCliOptions extends CommonOptions {
  uid: string;
  run?: boolean;
  conf?: string;
  name?: string;
  serial?: string;
}

function addSlotOptions(cmd: Command): Command {
  return cmd
    .option("--name <slot>", "slot (default: the one slot with a serial)")
    .option("--serial <serial>", "serial, for a slot that does not record one");
}

function addAdminOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--uid <uid>", "RGW user id")
    .option("--run", "run radosgw-admin here (else print the command for a Ceph admin host)")
    .option("-c, --conf <ceph.conf>", "ceph.conf for radosgw-admin (with --run)");
}

async function admin(o: AdminCliOptions) {
  const { RadosgwAdmin } = await import("../../integrations/ceph/radosgw-admin.ts");
  return new RadosgwAdmin({ conf: o.conf });
}

/** Runs fn, turning radosgw-admin failures into the Ceph exit code. */
async function cephErrors<T>(fn: () => Promise<T>): Promise<T> {
  const { RadosgwAdminError } = await import("../../integrations/ceph/radosgw-admin.ts");
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RadosgwAdminError) throw new CephCliError(e.message, e.code);
    throw e;
  }
}

function int(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(what + " must be a whole number.");
  return n;
}

interface EnrollCliOptions extends AdminCliOptions {
  seedType: string;
  period?: string;
  window?: string;
  digits?: string;
  force?: boolean;
}

export function register(program: Command): void {
  const ceph = program.command("ceph").description("Ceph RGW MFA: enrol the token for a user, check a pin, resync a drifted token");

  addCommonOptions(
    addAdminOptions(
      ceph
        .command("enroll")
        .description("make a seed, put it in a slot with its serial, register it with RGW (radosgw-admin mfa create) and verify a pin")
        .option("--serial <serial>", "token serial (default: hwtotp- and 8 random hex digits)")
        .option("--seed-type <type>", "how the seed is given to RGW: hex or base32", "base32")
        .option("--period <seconds>", "TOTP step (--totp-seconds)", "30")
        .option("--window <steps>", "steps RGW accepts either side (--totp-window)", "2")
        .option("--digits <n>", "pin length, 6 or 8", "6")
        .option("--name <slot>", "slot name (default: ceph-UID)")
        .option("--force", "replace a token the user already has under this serial"),
    ),
  ).action(async (o: EnrollCliOptions) => {
    const { enroll } = await import("../../integrations/ceph/enroll.ts");
    const adm = await admin(o);
    const r = await cephErrors(() =>
      enroll(
        {
          uid: o.uid,
          serial: o.serial,
          seedType: o.seedType as "hex" | "base32",
          period: int(o.period, "--period"),
          window: int(o.window, "--window"),
          digits: int(o.digits, "--digits"),
          name: o.name,
          run: !!o.run,
          admin: adm,
          force: o.force,
          onStep: say,
        },
        {
          add: (a) => withSession(o, (s) => s.add(a)),
          delete: (n) => withSession(o, (s) => s.delete(n)),
          readCode: (n) => withSession(o, (s) => s.code(n)).then((d) => d.codes[0]),
        },
      ),
    );
    output(o, r, () => {
      if (r.command) {
        say("Run this on a Ceph admin host (it holds the seed: the only copy outside the token). The seed goes in");
        say("CEPH_ARGS, not on radosgw-admin's command line; the leading space keeps it out of bash history.");
        say("Then verify: hwtotp ceph check --uid " + r.uid + " --name " + r.slot.name + " --run");
        return r.command;
      }
      return "Enrolled: user " + r.uid + ", serial " + r.serial + ", slot " + r.slot.name + "; RGW accepted a pin from the token.";
    });
  });

  addCommonOptions(
    addAdminOptions(
      addSlotOptions(ceph.command("check").description("check a fresh pin from the token with RGW (radosgw-admin mfa check)")),
    ),
  ).action(async (o: AdminCliOptions) => {
    const { printableCommand } = await import("../../integrations/ceph/radosgw-admin.ts");
    const adm = await admin(o);
    const pin = await dispenseForCli(o);
    if (!o.run) {
      const args = ["mfa", "check", "--uid=" + o.uid, "--totp-serial=" + pin.serial];
      output(o, { serial: pin.serial, step: pin.step, command: printableCommand(adm, args, ["--totp-pin=" + pin.pin]) }, () => {
        say("Run within " + Math.floor(pin.left) + " s (the pin is for step " + pin.step + " only):");
        return printableCommand(adm, args, ["--totp-pin=" + pin.pin]);
      });
      return;
    }
    const ok = await cephErrors(() => adm.check(o.uid, pin.serial, pin.pin));
    const { notePinUsed, defaultStateDir } = await import("../../integrations/ceph/pin-dispenser.ts");
    await notePinUsed(defaultStateDir(), pin);
    if (!ok) throw new CephCliError("RGW refused the pin for " + pin.serial + " (wrong, replayed, throttled, or the token has drifted: try `hwtotp ceph resync`).", "E_MFA_REFUSED");
    output(o, { ok: true, serial: pin.serial, step: pin.step }, () => "ok");
  });

  addCommonOptions(
    addAdminOptions(
      addSlotOptions(
        ceph.command("resync").description("read two consecutive codes from the token and resync RGW's offset for it (radosgw-admin mfa resync)"),
      ),
    ),
  ).action(async (o: AdminCliOptions) => {
    const { resyncCodes } = await import("../../clock/index.ts");
    const { serialOf, noteResync, defaultStateDir } = await import("../../integrations/ceph/pin-dispenser.ts");
    const { printableCommand } = await import("../../integrations/ceph/radosgw-admin.ts");
    const adm = await admin(o);
    const { name } = await pickMfaSlot(o);
    const [p] = await withSession(o, (s) =>
      resyncCodes(s, { name, onWait: (sec) => say("Waiting " + sec.toFixed(1) + " s for the next step…") }),
    );
    const serial = serialOf({ name, serial: p.serial, code: null, step: p.step, left: 0, period: p.period, touch: false }, o.serial);
    const args = ["mfa", "resync", "--uid=" + o.uid, "--totp-serial=" + serial];
    const pins = ["--totp-pin=" + p.codes[0], "--totp-pin=" + p.codes[1]];
    if (!o.run) {
      await noteResync(defaultStateDir(), serial, p.step + 1, null);
      output(o, { serial, step: p.step, command: printableCommand(adm, args, pins) }, () => {
        say("Run this soon on a Ceph admin host (RGW looks for the two pins near its current time):");
        return printableCommand(adm, args, pins);
      });
      return;
    }
    await cephErrors(() => adm.resync(o.uid, serial, p.codes[0], p.codes[1]));
    const entry = await cephErrors(() => adm.get(o.uid, serial));
    await noteResync(defaultStateDir(), serial, p.step + 1, entry ? entry.timeOfs : null);
    output(o, { serial, step: p.step, timeOfs: entry?.timeOfs ?? null }, () =>
      "Resynced " + serial + " for user " + o.uid + (entry ? " (RGW's offset for it is now " + entry.timeOfs + " s)." : "."),
    );
  });
}
