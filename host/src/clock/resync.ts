// Codes of two consecutive steps, for a server that learnt an offset while the token had drifted and now
// wants resynchronising (Ceph RGW `radosgw-admin mfa resync` takes pin1 and the pin one step later, and
// scans offsets out to 7 days: facts/ceph.md). The device computes both codes at its own clock; we only
// wait for its step to turn over.
import type { CodeInfo } from "../../../protocol/index.ts";
import { RadosgwAdmin, printableCommand } from "../integrations/ceph/radosgw-admin.ts";
import { realSleep, type CodePort, type Sleeper } from "./types.ts";

export interface ResyncPair {
  name: string;
  period: number;
  serial?: string;
  /** Step of the first code (Unix time / period). */
  step: number;
  codes: [string, string];
  /** For a slot with a serial: the command to run on the Ceph admin host (pins only, never a seed). */
  command?: string;
}

export interface ResyncOptions {
  name?: string;
  /** Ceph user id to put in the command (else a placeholder). */
  uid?: string;
  sleep?: Sleeper;
  /** Called once per wait with the seconds to wait (progress on stderr). */
  onWait?: (seconds: number, period: number) => void;
}

const MARGIN = 0.3; // s past the device's step boundary before asking again

/**
 * Two consecutive codes per slot (one slot by name, or every slot that releases codes without a press).
 * Slots sharing a period share the wait. Retries a slot whose second code did not land one step later.
 */
export async function resyncCodes(port: CodePort, opts: ResyncOptions = {}): Promise<ResyncPair[]> {
  const sleep = opts.sleep ?? realSleep;
  const first = await port.code(opts.name);
  const wanted = first.codes.filter((c) => c.code !== null);
  if (wanted.length === 0) throw new Error("No slot to resync" + (first.codes.length ? " (touch slots need --name)." : "."));
  const byPeriod = new Map<number, CodeInfo[]>();
  for (const c of wanted) byPeriod.set(c.period, [...(byPeriod.get(c.period) ?? []), c]);
  const out: ResyncPair[] = [];
  let fresh = true; // the codes just read: their `left` is still good
  for (const [period, group] of [...byPeriod.entries()].sort((a, b) => a[0] - b[0])) {
    let firsts = group;
    for (let attempt = 0; attempt < 3 && firsts.length > 0; attempt++) {
      if (!fresh) firsts = pick((await port.code(opts.name)).codes, firsts);
      fresh = false;
      const left = Math.max(...firsts.map((c) => c.left));
      const wait = left + MARGIN;
      opts.onWait?.(wait, period);
      await sleep(wait);
      const seconds = pick((await port.code(opts.name)).codes, firsts);
      const retry: CodeInfo[] = [];
      for (const a of firsts) {
        const b = seconds.find((c) => c.name === a.name);
        if (b && b.code !== null && a.code !== null && b.step === a.step + 1) out.push(pair(a, b, opts.uid));
        else retry.push(a);
      }
      firsts = retry;
    }
    if (firsts.length > 0) throw new Error("Could not read two consecutive codes for " + firsts.map((c) => c.name).join(", ") + ".");
  }
  return out;
}

function pick(all: CodeInfo[], like: CodeInfo[]): CodeInfo[] {
  return like.map((l) => all.find((c) => c.name === l.name)).filter((c): c is CodeInfo => c !== undefined && c.code !== null);
}

function pair(a: CodeInfo, b: CodeInfo, uid?: string): ResyncPair {
  const p: ResyncPair = { name: a.name, period: a.period, step: a.step, codes: [a.code as string, b.code as string] };
  if (a.serial) {
    p.serial = a.serial;
    p.command = radosgwResyncCommand(uid ?? "<uid>", a.serial, a.code as string, b.code as string);
  }
  return p;
}

/**
 * `radosgw-admin mfa resync` as `hwtotp ceph resync` prints it (the Ceph integration's printableCommand): the
 * pins in a CEPH_ARGS prefix, never on the command's argv (/proc/PID/cmdline is world-readable).
 */
export function radosgwResyncCommand(uid: string, serial: string, pin1: string, pin2: string): string {
  return printableCommand(
    new RadosgwAdmin(),
    ["mfa", "resync", "--uid=" + uid, "--totp-serial=" + serial],
    ["--totp-pin=" + pin1, "--totp-pin=" + pin2],
  );
}
