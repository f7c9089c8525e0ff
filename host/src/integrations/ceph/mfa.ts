// The Ceph RGW MFA operations behind `hwtotp s3`, `hwtotp code --mfa-header` and `hwtotp ceph check|resync`:
// which slot carries the MFA serial, a fresh pin from it (pin-dispenser.ts), and RGW's check and resync.
// The token is reached through a DeviceAccess (one short session per read); the CLI supplies it.
import type { CodeInfo } from "../../../../protocol/index.ts";
import { UsageError } from "../../errors.ts";
import { runChild } from "../../exec.ts";
import { resyncCodes } from "../../clock/index.ts";
import { type DeviceAccess, perCall } from "../device.ts";
import { CephError, cephErrors } from "./errors.ts";
import { type Pin, defaultStateDir, dispensePin, notePinUsed, noteResync, serialOf } from "./pin-dispenser.ts";
import { type RadosgwAdmin, printableCommand } from "./radosgw-admin.ts";
import { isAws, planS3 } from "./s3-mfa.ts";

export interface MfaSlotOptions {
  /** Slot to use (default: the one slot with a serial). */
  name?: string;
  /** Serial, for a slot that does not record one. */
  serial?: string;
}

/** The slot to use (the one with a serial, when no name is given) and the serial its slot records. */
export async function pickMfaSlot(dev: DeviceAccess, o: MfaSlotOptions): Promise<{ name: string; serial?: string }> {
  const all = (await perCall(dev).list()).slots;
  if (o.name !== undefined) {
    const slot = all.find((x) => x.name === o.name);
    return { name: o.name, serial: slot?.serial };
  }
  const slots = all.filter((x) => x.serial);
  if (slots.length === 1) return { name: slots[0].name, serial: slots[0].serial };
  if (slots.length === 0)
    throw new UsageError("No slot carries an MFA serial; enrol one with `hwtotp ceph enroll`, or give --name and --serial.");
  throw new UsageError("Several slots carry a serial; pick one with --name (" + slots.map((x) => x.name).join(", ") + ").");
}

/** A fresh pin for the slot (waits for an unused step, telling `onWait`); one short device session per read. */
export async function dispenseMfaPin(dev: DeviceAccess, o: MfaSlotOptions & { onWait?: (sentence: string) => void }): Promise<Pin> {
  const slot = await pickMfaSlot(dev, o);
  const slots = perCall(dev);
  const readCode = (n?: string): Promise<CodeInfo> =>
    slots.code(n ?? slot.name).then((d) => ({ ...d.codes[0], serial: d.codes[0].serial ?? slot.serial }));
  return dispensePin({
    name: slot.name,
    serial: o.serial,
    readCode,
    onWait: (sec, why) => o.onWait?.("Waiting " + sec + " s for the next step (" + why + ")."),
  });
}

/** Records that the request which carried `pin` is over (RGW's replay index moved on). */
export function pinUsed(pin: Pin): Promise<void> {
  return notePinUsed(defaultStateDir(), pin);
}

/**
 * `hwtotp s3 -- CMD…`: CMD with a fresh pin (aws s3api: its MFA parameter, else $envVar); the pin is
 * recorded as used once CMD exits. A bad command is refused before a pin is spent on it. Resolves with CMD's exit code.
 */
export async function runS3(
  argv: string[],
  dev: DeviceAccess,
  o: MfaSlotOptions & { envVar: string; mfaArg?: boolean; say: (s: string) => void },
): Promise<number> {
  if (argv.length === 0 || isAws(argv[0])) planS3(argv, "CHECK 000000", { envVar: o.envVar, mfaArg: o.mfaArg, check: true });
  const pin = await dispenseMfaPin(dev, { name: o.name, serial: o.serial, onWait: o.say });
  const plan = planS3(argv, pin.header, { envVar: o.envVar, mfaArg: o.mfaArg });
  o.say("MFA serial " + pin.serial + ", step " + pin.step + " (" + Math.floor(pin.left) + " s left).");
  try {
    return await runChild(plan.cmd, plan.args, plan.env);
  } finally {
    plan.cleanup();
    await pinUsed(pin);
  }
}

export interface CheckResult {
  pin: Pin;
  /** Without run: the radosgw-admin command to run on a Ceph admin host (holds the pin, in CEPH_ARGS). */
  command?: string;
}

/**
 * `ceph check`: a fresh pin, checked by RGW (`mfa check`) when `run`, else the command to do so. A refused
 * pin is a CephError (E_MFA_REFUSED).
 */
export async function checkMfaPin(
  dev: DeviceAccess,
  admin: RadosgwAdmin,
  o: MfaSlotOptions & { uid: string; run: boolean; onWait?: (s: string) => void },
): Promise<CheckResult> {
  const pin = await dispenseMfaPin(dev, o);
  if (!o.run) {
    const args = ["mfa", "check", "--uid=" + o.uid, "--totp-serial=" + pin.serial];
    return { pin, command: printableCommand(admin, args, ["--totp-pin=" + pin.pin]) };
  }
  const ok = await cephErrors(() => admin.check(o.uid, pin.serial, pin.pin));
  await pinUsed(pin);
  if (!ok)
    throw new CephError(
      "RGW refused the pin for " + pin.serial + " (wrong, replayed, throttled, or the token has drifted: try `hwtotp ceph resync`).",
      "E_MFA_REFUSED",
    );
  return { pin };
}

export interface ResyncResult {
  serial: string;
  step: number;
  /** Without run: the radosgw-admin command (holds the two pins, in CEPH_ARGS). */
  command?: string;
  /** With run: RGW's offset for the token afterwards, when it tells. */
  timeOfs?: number | null;
}

/** `ceph resync`: two consecutive codes from the token (one session), for RGW's `mfa resync`, run or printed. */
export async function resyncMfa(
  dev: DeviceAccess,
  admin: RadosgwAdmin,
  o: MfaSlotOptions & { uid: string; run: boolean; onWait?: (seconds: number) => void },
): Promise<ResyncResult> {
  const { name } = await pickMfaSlot(dev, o);
  const [p] = await dev.session((s) => resyncCodes(s, { name, onWait: o.onWait }));
  const serial = serialOf({ name, serial: p.serial, code: null, step: p.step, left: 0, period: p.period, touch: false }, o.serial);
  const args = ["mfa", "resync", "--uid=" + o.uid, "--totp-serial=" + serial];
  const pins = ["--totp-pin=" + p.codes[0], "--totp-pin=" + p.codes[1]];
  if (!o.run) {
    await noteResync(defaultStateDir(), serial, p.step + 1, null);
    return { serial, step: p.step, command: printableCommand(admin, args, pins) };
  }
  await cephErrors(() => admin.resync(o.uid, serial, p.codes[0], p.codes[1]));
  const entry = await cephErrors(() => admin.get(o.uid, serial));
  await noteResync(defaultStateDir(), serial, p.step + 1, entry ? entry.timeOfs : null);
  return { serial, step: p.step, timeOfs: entry ? entry.timeOfs : null };
}
