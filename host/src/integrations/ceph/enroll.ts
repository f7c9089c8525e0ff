// Enrolment of a token for a Ceph RGW user (radosgw-admin mfa create, ../shared/facts/ceph.md): the seed is
// made on the host, put into a slot that records the serial, registered with RGW (or the exact command
// printed), then verified with `mfa check` and a pin from the device. On a failure after the seed went
// into the token, both sides are rolled back so that they never disagree.
import { randomBytes } from "node:crypto";
import { checkName, type CodeInfo, type SlotInfo } from "../../../../protocol/index.ts";
import { HwtotpError, UsageError } from "../../errors.ts";
import { encodeBase32, toHex } from "../../secret.ts";
import { defaultStateDir, dispensePin, notePinUsed, noteResync } from "./pin-dispenser.ts";
import { RadosgwAdmin, checkSerial, checkUid, createArgs, printableCommand } from "./radosgw-admin.ts";

export interface DeviceOps {
  add(a: { name: string; key: string; alg: "SHA1"; digits: number; period: number; serial: string }): Promise<{ slot: SlotInfo }>;
  delete(name: string): Promise<unknown>;
  readCode(name?: string): Promise<CodeInfo>;
}

export interface EnrollOptions {
  uid: string;
  serial?: string;
  seedType?: "hex" | "base32";
  period?: number;
  window?: number;
  digits?: number;
  name?: string;
  /** Run radosgw-admin here; otherwise return the command to print. */
  run: boolean;
  admin: RadosgwAdmin;
  /** Overwrite a serial the user already has (RGW would do so silently). */
  force?: boolean;
  stateDir?: string;
  onStep?: (sentence: string) => void;
}

export interface EnrollResult {
  uid: string;
  serial: string;
  slot: SlotInfo;
  /** With run: RGW answered `ok` to a pin from the device. */
  verified: boolean;
  /** Without run: the command to run on a Ceph admin host (holds the seed, in a CEPH_ARGS prefix). */
  command?: string;
}

/** `hwtotp-` and 8 random hex digits: RGW serials are per user; this one names the token, not the user. */
export function defaultSerial(): string {
  return "hwtotp-" + randomBytes(4).toString("hex");
}

export function defaultSlotName(uid: string): string {
  return ("ceph-" + uid.replace(/\$/g, "-")).slice(0, 32);
}

export function checkEnrollOptions(o: EnrollOptions): Required<Pick<EnrollOptions, "seedType" | "period" | "window" | "digits">> & { serial: string; name: string } {
  checkUid(o.uid);
  const serial = o.serial ?? defaultSerial();
  checkSerial(serial);
  const name = o.name ?? defaultSlotName(o.uid);
  const bad = checkName(name, "slot name");
  if (bad) throw new UsageError(bad);
  const seedType = o.seedType ?? "base32";
  if (seedType !== "hex" && seedType !== "base32") throw new UsageError("--seed-type must be hex or base32.");
  const period = o.period ?? 30;
  if (!Number.isInteger(period) || period < 1 || period > 300) throw new UsageError("--period must be a whole number of seconds from 1 to 300.");
  const window = o.window ?? 2;
  // RGW stores window 0 as 2 (facts/ceph.md); say so rather than let it surprise.
  if (!Number.isInteger(window) || window < 1 || window > 10) throw new UsageError("--window must be a whole number of steps from 1 to 10.");
  const digits = o.digits ?? 6;
  if (digits !== 6 && digits !== 8) throw new UsageError("--digits must be 6 or 8.");
  return { serial, name, seedType, period, window, digits };
}

export async function enroll(o: EnrollOptions, dev: DeviceOps): Promise<EnrollResult> {
  const p = checkEnrollOptions(o);
  const say = o.onStep ?? (() => {});
  if (o.run) {
    const existing = await o.admin.list(o.uid);
    if (!o.force && existing.some((e) => e.serial === p.serial)) {
      throw new UsageError("User " + o.uid + " already has a token with serial " + p.serial + "; pick another --serial (or --force to replace it).");
    }
  }
  const key = Uint8Array.from(randomBytes(20));
  let seed = p.seedType === "hex" ? toHex(key) : encodeBase32(key);
  let slot: SlotInfo;
  try {
    slot = (await dev.add({ name: p.name, key: toHex(key), alg: "SHA1", digits: p.digits, period: p.period, serial: p.serial })).slot;
  } catch (e) {
    key.fill(0);
    seed = "";
    throw e;
  }
  say("Slot " + p.name + " holds the new seed (serial " + p.serial + ").");
  const base = { uid: o.uid, serial: p.serial, seedType: p.seedType, seconds: p.period, window: p.window };
  if (!o.run) {
    const command = printableCommand(o.admin, createArgs(base), ["--totp-seed=" + seed]);
    key.fill(0);
    seed = "";
    return { uid: o.uid, serial: p.serial, slot, verified: false, command };
  }
  let created = false;
  try {
    await o.admin.create({ ...base, seed });
    key.fill(0);
    seed = "";
    created = true;
    say("RGW registered serial " + p.serial + " for user " + o.uid + "; checking a pin from the token…");
    // RGW keeps a serial's replay state across a create (facts/ceph.md): keep our index, reset the step.
    await noteResync(o.stateDir ?? defaultStateDir(), p.serial, -1, 0);
    const pin = await dispensePin({ name: p.name, serial: p.serial, readCode: dev.readCode, stateDir: o.stateDir, onWait: (s, why) => say("Waiting " + s + " s: " + why + ".") });
    const ok = await o.admin.check(o.uid, p.serial, pin.pin);
    await notePinUsed(o.stateDir ?? defaultStateDir(), pin);
    if (!ok) {
      throw new HwtotpError(
        "RGW refused the token's first pin for " + p.serial + " (is the token's clock right? see `hwtotp time`); rolled back the slot and the RGW token.",
      );
    }
    return { uid: o.uid, serial: p.serial, slot, verified: true };
  } catch (e) {
    key.fill(0);
    seed = "";
    if (created) await o.admin.remove(o.uid, p.serial).catch(() => {});
    await dev.delete(p.name).catch(() => {});
    throw e;
  }
}
