// Enrolment of a token for a Ceph RGW user (radosgw-admin mfa create, docs/facts/ceph.md): the seed is
// made on the host, put into a slot that records the serial, registered with RGW (or the exact command
// printed), then verified with `mfa check` and a pin from the device. On a failure after the seed went
// into the token, both sides are rolled back (../rollback.ts) so that they never disagree, or the error
// names what could not be undone.
import { checkName, type SlotInfo } from "../../../../protocol/index.ts";
import { HwtotpError, UsageError } from "../../errors.ts";
import { encodeBase32, generateKey, toHex } from "../../secret.ts";
import type { SlotDevice } from "../device.ts";
import { Rollback, type RollbackReport, errorCode, rollbackSentence, rolledBack } from "../rollback.ts";
import { asCephError, cephErrors } from "./errors.ts";
import { type Pin, defaultStateDir, dispensePin, notePinUsed, noteResync } from "./pin-dispenser.ts";
import { RadosgwAdmin, checkSerial, checkUid, createArgs, printableCommand } from "./radosgw-admin.ts";

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
  return "hwtotp-" + toHex(generateKey(4));
}

export function defaultSlotName(uid: string): string {
  return ("ceph-" + uid.replace(/\$/g, "-")).slice(0, 32);
}

export function checkEnrollOptions(
  o: EnrollOptions,
): Required<Pick<EnrollOptions, "seedType" | "period" | "window" | "digits">> & { serial: string; name: string } {
  checkUid(o.uid);
  const serial = o.serial ?? defaultSerial();
  checkSerial(serial);
  const name = o.name ?? defaultSlotName(o.uid);
  const bad = checkName(name, "slot name");
  if (bad) throw new UsageError(bad);
  const seedType = o.seedType ?? "base32";
  if (seedType !== "hex" && seedType !== "base32") throw new UsageError("--seed-type must be hex or base32.");
  const period = o.period ?? 30;
  if (!Number.isInteger(period) || period < 1 || period > 300)
    throw new UsageError("--period must be a whole number of seconds from 1 to 300.");
  const window = o.window ?? 2;
  // RGW stores window 0 as 2 (facts/ceph.md); say so rather than let it surprise.
  if (!Number.isInteger(window) || window < 1 || window > 10)
    throw new UsageError("--window must be a whole number of steps from 1 to 10.");
  const digits = o.digits ?? 6;
  if (digits !== 6 && digits !== 8) throw new UsageError("--digits must be 6 or 8.");
  return { serial, name, seedType, period, window, digits };
}

/** A step after the seed went into the token failed and an undo step failed too: what is left is named. */
export class PartialEnrollError extends HwtotpError {
  /** What the rollback did and did not undo. */
  readonly rollback: RollbackReport;
  /** The code of the failure that started the rollback. */
  readonly causeCode: string;
  constructor(cause: unknown, rollback: RollbackReport) {
    super((cause instanceof Error ? cause.message : String(cause)).replace(/\.$/, "") + "; " + rollbackSentence(rollback) + ".");
    this.exitCode = cause instanceof HwtotpError ? cause.exitCode : this.exitCode;
    this.code = "E_PARTIAL";
    this.causeCode = errorCode(cause);
    this.rollback = rollback;
  }
}

type Plan = ReturnType<typeof checkEnrollOptions>;

/** Step 1 (with run): the user has no token under this serial yet, unless --force. */
async function checkSerialFree(o: EnrollOptions, p: Plan): Promise<void> {
  const existing = await o.admin.list(o.uid);
  if (!o.force && existing.some((e) => e.serial === p.serial)) {
    throw new UsageError(
      "User " + o.uid + " already has a token with serial " + p.serial + "; pick another --serial (or --force to replace it).",
    );
  }
}

/** Step 2: a new seed into a slot that records the serial. Returns the key (the caller wipes it). */
async function storeSeed(dev: SlotDevice, p: Plan, undo: Rollback): Promise<{ key: Uint8Array; slot: SlotInfo }> {
  const key = generateKey(20);
  try {
    const slot = (await dev.add({ name: p.name, key: toHex(key), alg: "SHA1", digits: p.digits, period: p.period, serial: p.serial })).slot;
    undo.add("slot " + p.name + " on the token", () => dev.delete(p.name));
    return { key, slot };
  } catch (e) {
    key.fill(0);
    throw e;
  }
}

/** Step 3 (with run): RGW registers the seed under the serial (`mfa create`). */
async function createRgwToken(o: EnrollOptions, p: Plan, seed: string, undo: Rollback): Promise<void> {
  await o.admin.create({ uid: o.uid, serial: p.serial, seedType: p.seedType, seconds: p.period, window: p.window, seed });
  undo.add("RGW token " + p.serial + " of user " + o.uid, () => o.admin.remove(o.uid, p.serial));
}

/** Step 4 (with run): RGW accepts a fresh pin from the token (`mfa check`); false when it refuses it. */
async function checkFirstPin(o: EnrollOptions, p: Plan, dev: SlotDevice, say: (s: string) => void): Promise<boolean> {
  const stateDir = o.stateDir ?? defaultStateDir();
  // RGW keeps a serial's replay state across a create (facts/ceph.md): keep our index, reset the step.
  await noteResync(stateDir, p.serial, -1, 0);
  const readCode = (n?: string) => dev.code(n ?? p.name).then((d) => d.codes[0]);
  const pin: Pin = await dispensePin({
    name: p.name,
    serial: p.serial,
    readCode,
    stateDir: o.stateDir,
    onWait: (s, why) => say("Waiting " + s + " s: " + why + "."),
  });
  const ok = await o.admin.check(o.uid, p.serial, pin.pin);
  await notePinUsed(stateDir, pin);
  return ok;
}

/** Enrols the token for the RGW user: seed → slot, then (with run) `mfa create` and a checked pin, else the command. */
export async function enrollCeph(o: EnrollOptions, dev: SlotDevice): Promise<EnrollResult> {
  const p = checkEnrollOptions(o);
  const say = o.onStep ?? (() => {});
  if (o.run) await cephErrors(() => checkSerialFree(o, p));
  const undo = new Rollback();
  const { key, slot } = await storeSeed(dev, p, undo);
  let seed = p.seedType === "hex" ? toHex(key) : encodeBase32(key);
  key.fill(0);
  say("Slot " + p.name + " holds the new seed (serial " + p.serial + ").");
  if (!o.run) {
    const command = printableCommand(
      o.admin,
      createArgs({ uid: o.uid, serial: p.serial, seedType: p.seedType, seconds: p.period, window: p.window }),
      ["--totp-seed=" + seed],
    );
    seed = "";
    return { uid: o.uid, serial: p.serial, slot, verified: false, command };
  }
  const refused = "RGW refused the token's first pin for " + p.serial + " (is the token's clock right? see `hwtotp time`)";
  let pinRefused = false;
  try {
    try {
      await createRgwToken(o, p, seed, undo);
    } finally {
      seed = "";
    }
    say("RGW registered serial " + p.serial + " for user " + o.uid + "; checking a pin from the token…");
    pinRefused = !(await checkFirstPin(o, p, dev, say));
    if (pinRefused) throw new HwtotpError(refused + ".");
    return { uid: o.uid, serial: p.serial, slot, verified: true };
  } catch (e) {
    const report = await undo.run();
    const cause = asCephError(e);
    if (!rolledBack(report)) throw new PartialEnrollError(cause, report);
    throw pinRefused ? new HwtotpError(refused + "; rolled back the slot and the RGW token.") : cause;
  }
}
