// hwtotp ceph enroll | check | resync — the Ceph RGW MFA integration's CLI. It parses options and prints;
// the work is in host/src/integrations/ceph/. Without --run, the radosgw-admin command is printed for a
// Ceph admin host; with --run it is run here (radosgw-admin on PATH, --conf passed through).
import type { Command } from "commander";
import { UsageError } from "../../errors.ts";
import { addCommonOptions, type CommonOptions, deviceAccess, output, say } from "../context.ts";

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
    const { enrollCeph } = await import("../../integrations/ceph/enroll.ts");
    const { perCall } = await import("../../integrations/device.ts");
    const r = await enrollCeph(
      {
        uid: o.uid,
        serial: o.serial,
        seedType: o.seedType as "hex" | "base32",
        period: int(o.period, "--period"),
        window: int(o.window, "--window"),
        digits: int(o.digits, "--digits"),
        name: o.name,
        run: !!o.run,
        admin: await admin(o),
        force: o.force,
        onStep: say,
      },
      perCall(deviceAccess(o)),
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
    const { checkMfaPin } = await import("../../integrations/ceph/mfa.ts");
    const { pin, command } = await checkMfaPin(deviceAccess(o), await admin(o), {
      name: o.name,
      serial: o.serial,
      uid: o.uid,
      run: !!o.run,
      onWait: say,
    });
    if (command !== undefined) {
      output(o, { serial: pin.serial, step: pin.step, command }, () => {
        say("Run within " + Math.floor(pin.left) + " s (the pin is for step " + pin.step + " only):");
        return command;
      });
      return;
    }
    output(o, { ok: true, serial: pin.serial, step: pin.step }, () => "ok");
  });

  addCommonOptions(
    addAdminOptions(
      addSlotOptions(
        ceph
          .command("resync")
          .description("read two consecutive codes from the token and resync RGW's offset for it (radosgw-admin mfa resync)"),
      ),
    ),
  ).action(async (o: AdminCliOptions) => {
    const { resyncMfa } = await import("../../integrations/ceph/mfa.ts");
    const onWait = (sec: number) => say("Waiting " + sec.toFixed(1) + " s for the next step…");
    const r = await resyncMfa(deviceAccess(o), await admin(o), { name: o.name, serial: o.serial, uid: o.uid, run: !!o.run, onWait });
    if (r.command !== undefined) {
      const command = r.command;
      output(o, { serial: r.serial, step: r.step, command }, () => {
        say("Run this soon on a Ceph admin host (RGW looks for the two pins near its current time):");
        return command;
      });
      return;
    }
    output(
      o,
      { serial: r.serial, step: r.step, timeOfs: r.timeOfs ?? null },
      () =>
        "Resynced " +
        r.serial +
        " for user " +
        o.uid +
        (r.timeOfs !== null && r.timeOfs !== undefined ? " (RGW's offset for it is now " + r.timeOfs + " s)." : "."),
    );
  });
}
