// Replay-safe pins for Ceph RGW MFA: never the same step twice for one serial, never more than RGW's
// checks per serial per step. RGW's rules (docs/facts/ceph.md, cls_otp): a pin is accepted only when
// its index — RGW's current step + |offset of the matching step| (the sign is lost) — is above the last
// accepted index; and at most 5 checks per serial in a sliding step.
//
// State: one small JSON file per serial (mode 0600, in a 0700 dir), updated under a lock file, so that
// concurrent `hwtotp s3` runs queue up: each waits for the next step instead of burning a replayed pin.
import { mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { CodeInfo } from "../../../../protocol/index.ts";
import { HwtotpError, UsageError } from "../../errors.ts";
import { withLockFile, writePrivateFile } from "../../private-file.ts";
import { checkSerial } from "./radosgw-admin.ts";

/** RGW's ATTEMPTS_PER_WINDOW (cls_otp.cc): checks per serial within one step, good or bad. */
export const RGW_CHECKS_PER_STEP = 5;
/** A pin with fewer seconds left than this waits for the next step: arriving late, it would cost two. */
export const MIN_LEFT_S = 4;
/** Give up rather than wait longer than this many steps for a usable pin. */
export const MAX_WAIT_STEPS = 4;

export interface MfaState {
  v: 1;
  serial: string;
  /** Device step of the last pin handed out. */
  lastStep: number;
  /** Our estimate of the replay index RGW stored for it. */
  lastIndex: number;
  /** Host times (ms) of the checks spent, kept for one step. */
  checks: number[];
  /** RGW's time_ofs for this token (seconds), when known (after `hwtotp ceph resync`). */
  timeOfs: number;
}

export interface Pin {
  serial: string;
  pin: string;
  step: number;
  left: number;
  period: number;
  /** "SERIAL PIN", the value of S3's x-amz-mfa header. */
  header: string;
  /** Milliseconds spent waiting for a usable step. */
  waitedMs: number;
}

export interface DispenseOptions {
  /** Slot to read. */
  name?: string;
  /** Serial to use when the slot does not carry one (or to check it against the slot's). */
  serial?: string;
  /** Reads the slot's current code from the device (one short session per call). */
  readCode: (name?: string) => Promise<CodeInfo>;
  stateDir?: string;
  minLeft?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  onWait?: (seconds: number, why: string) => void;
}

/** `$HWTOTP_MFA_STATE`, else `$XDG_RUNTIME_DIR/hwtotp/mfa`, else `~/.cache/hwtotp/mfa`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HWTOTP_MFA_STATE) return env.HWTOTP_MFA_STATE;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "hwtotp", "mfa");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "hwtotp", "mfa");
}

function stateFile(dir: string, serial: string): string {
  return join(dir, "serial-" + encodeURIComponent(serial) + ".json");
}

export function emptyState(serial: string): MfaState {
  return { v: 1, serial, lastStep: -1, lastIndex: -1, checks: [], timeOfs: 0 };
}

export function readState(dir: string, serial: string): MfaState {
  let raw: string;
  try {
    raw = readFileSync(stateFile(dir, serial), "utf8");
  } catch {
    return emptyState(serial);
  }
  try {
    const o = JSON.parse(raw) as Partial<MfaState>;
    const s = emptyState(serial);
    if (typeof o.lastStep === "number") s.lastStep = o.lastStep;
    if (typeof o.lastIndex === "number") s.lastIndex = o.lastIndex;
    if (Array.isArray(o.checks)) s.checks = o.checks.filter((x) => typeof x === "number");
    if (typeof o.timeOfs === "number") s.timeOfs = o.timeOfs;
    return s;
  } catch {
    // A torn or foreign file: start afresh rather than refuse every pin (at worst one step is replayed).
    return emptyState(serial);
  }
}

export function writeState(dir: string, st: MfaState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = stateFile(dir, st.serial);
  writePrivateFile(file, JSON.stringify(st) + "\n");
}

/** RGW's replay index for a pin of device step `step` checked at host time `nowMs`. */
export function replayIndex(step: number, period: number, nowMs: number, timeOfs: number): number {
  const server = Math.floor((nowMs / 1000 - timeOfs) / period);
  return server + Math.abs(step - server);
}

/** waitMs −1: waiting would not help (the reason says what would). */
export type Verdict = { ok: true; index: number } | { ok: false; waitMs: number; why: string };

/**
 * Whether a code may be handed out now, or how long to wait. Pure: the unit tests drive it.
 * `left` is the seconds left in the code's step at `nowMs`.
 */
export function judge(st: MfaState, c: { step: number; left: number; period: number }, nowMs: number, minLeft = MIN_LEFT_S): Verdict {
  const index = replayIndex(c.step, c.period, nowMs, st.timeOfs);
  const nextStepMs = Math.ceil(c.left * 1000) + 150;
  const byStep = st.lastStep - c.step;
  const byIndex = st.lastIndex - index;
  if (byStep >= 0 || byIndex >= 0) {
    const behind = Math.max(byStep, byIndex);
    if (behind >= MAX_WAIT_STEPS) {
      const why =
        byStep >= byIndex
          ? "the token's step " +
            c.step +
            " is " +
            behind +
            " steps behind the last pin handed out for " +
            st.serial +
            "; sync the token's clock (`hwtotp time sync`) or, after a server-side resync, run `hwtotp ceph resync`"
          : "RGW's replay guard remembers a pin " +
            behind +
            " steps ahead of this one for " +
            st.serial +
            " and refuses pins until then (about " +
            Math.ceil(((behind + 1) * c.period) / 60) +
            " min); wait, or remove the token and enrol afresh";
      return { ok: false, waitMs: -1, why };
    }
    return { ok: false, waitMs: nextStepMs + behind * c.period * 1000, why: "this step's pin was already used" };
  }
  if (c.left < Math.min(minLeft, c.period / 2)) return { ok: false, waitMs: nextStepMs, why: "the step is nearly over" };
  const recent = st.checks.filter((t) => t > nowMs - c.period * 1000).sort((a, b) => a - b);
  if (recent.length >= RGW_CHECKS_PER_STEP) {
    const waitMs = recent[recent.length - RGW_CHECKS_PER_STEP] + c.period * 1000 - nowMs + 150;
    return { ok: false, waitMs, why: "RGW allows " + RGW_CHECKS_PER_STEP + " checks per serial per step" };
  }
  return { ok: true, index };
}

/** Records a handed-out pin (one check) in the state. */
export function record(st: MfaState, step: number, index: number, nowMs: number, period: number): MfaState {
  return {
    ...st,
    lastStep: Math.max(st.lastStep, step),
    lastIndex: Math.max(st.lastIndex, index),
    checks: [...st.checks.filter((t) => t > nowMs - period * 1000), nowMs],
  };
}

const sleepReal = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Holds the serial's lock file while fn runs. A lock whose holder died (or older than 10 min) is broken.
 * Waiting dispensers poll; the lock is only held while a pin is read and recorded, and while waiting for
 * the next step (so they queue in order).
 */
export async function withLock<T>(
  dir: string,
  serial: string,
  fn: () => Promise<T>,
  sleep = sleepReal,
  timeoutMs = 10 * 60 * 1000,
): Promise<T> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = stateFile(dir, serial) + ".lock";
  const timeout = () => new HwtotpError("Another hwtotp process holds " + lock + " for too long; remove it if no hwtotp runs.");
  return withLockFile(lock, { waitMs: timeoutMs, staleMs: 10 * 60 * 1000, pollMs: 100, timeout, sleep }, fn);
}

/** The serial a slot's pins go with: the slot's own, else the one given; they must agree. */
export function serialOf(c: CodeInfo, given?: string): string {
  if (c.serial && given && c.serial !== given) {
    throw new UsageError("Slot " + c.name + " is registered with serial " + c.serial + ", not " + given + ".");
  }
  const serial = c.serial ?? given;
  if (!serial) throw new UsageError("Slot " + c.name + " has no serial; give --serial (or enrol it with `hwtotp ceph enroll`).");
  checkSerial(serial);
  return serial;
}

/**
 * Hands out one pin for the slot: waits for a step not used before for this serial (and with enough time
 * left), respects RGW's checks per step, records it, and returns it. The pin is for one S3 request.
 */
export async function dispensePin(o: DispenseOptions): Promise<Pin> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? sleepReal;
  const dir = o.stateDir ?? defaultStateDir();
  const t0 = now();
  let c = await o.readCode(o.name);
  let readAt = now();
  const serial = serialOf(c, o.serial);
  return withLock(
    dir,
    serial,
    async () => {
      for (let round = 0; ; round++) {
        // Another dispenser may have held the lock for a while: a code read before it is stale.
        if (now() - readAt > 250) {
          c = await o.readCode(c.name);
          readAt = now();
        }
        if (c.code === null) throw new HwtotpError("Slot " + c.name + " gave no code.");
        const st = readState(dir, serial);
        const at = now();
        const v = judge(st, { step: c.step, period: c.period, left: c.left - (at - readAt) / 1000 }, at, o.minLeft);
        if (v.ok) {
          writeState(dir, record(st, c.step, v.index, at, c.period));
          return { serial, pin: c.code, step: c.step, left: c.left, period: c.period, header: serial + " " + c.code, waitedMs: now() - t0 };
        }
        if (v.waitMs < 0 || round > MAX_WAIT_STEPS + RGW_CHECKS_PER_STEP)
          throw new HwtotpError("No pin for " + serial + ": " + v.why + ".");
        o.onWait?.(Math.ceil(v.waitMs / 1000), v.why);
        await sleep(v.waitMs);
      }
    },
    sleep,
  );
}

/**
 * After a server-side resync: RGW's time_ofs for the serial (when known) and the step of the resync's
 * second pin. The replay index is kept: RGW keeps its own across a resync.
 */
export async function noteResync(dir: string, serial: string, step: number, timeOfs: number | null): Promise<MfaState> {
  return withLock(dir, serial, async () => {
    const st = readState(dir, serial);
    st.lastStep = step;
    if (timeOfs !== null) st.timeOfs = timeOfs;
    writeState(dir, st);
    return st;
  });
}

/** Counts a check spent outside the dispenser (e.g. `radosgw-admin mfa check` at enrolment). */
export async function noteCheck(dir: string, serial: string, nowMs = Date.now(), period = 30): Promise<void> {
  await withLock(dir, serial, async () => {
    const st = readState(dir, serial);
    writeState(dir, { ...st, checks: [...st.checks.filter((t) => t > nowMs - period * 1000), nowMs] });
  });
}

/**
 * After the request that carried a pin is over: RGW recorded the index of the moment it checked the pin,
 * which is later than when it was handed out. Records the largest index it can have stored (a pin checked
 * after its step ended burns the next step too), so the next pin is not one RGW would refuse.
 */
export async function notePinUsed(dir: string, pin: Pick<Pin, "serial" | "step" | "period">, nowMs = Date.now()): Promise<void> {
  await withLock(dir, pin.serial, async () => {
    const st = readState(dir, pin.serial);
    const index = replayIndex(pin.step, pin.period, nowMs, st.timeOfs);
    if (index > st.lastIndex) writeState(dir, { ...st, lastIndex: index });
  });
}
