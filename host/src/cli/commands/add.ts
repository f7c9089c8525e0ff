// hwtotp add NAME (--secret B32 | --hex HEX | --uri URI | --generate): provisions a slot. Every input is
// parsed and checked on the host before the device is touched. The secret is shown only where asked:
// --generate prints the otpauth URI once; --qr / --qr-png render it for a backup authenticator.
// Failure leaves the token as it was: every output (URI, QR art, the PNG in its folder) is prepared before
// the slot is stored, and if putting the PNG in place still fails afterwards the slot is deleted again
// (when even that fails, the URI is shown so the seed is not lost).
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, say, sentenceOf, withSession } from "../context.ts";
import { EXIT, HwtotpError, UsageError } from "../../errors.ts";
import { ALGORITHMS, type Algorithm, LIMITS, type SlotInfo, checkName } from "../../../../protocol/index.ts";
import { type Credential, buildUri, generateKey, nameFromUri, parseBase32, parseHex, parseUri, toHex } from "../../secret.ts";
import { ARGV_NOTE, readSecret } from "../../secret-input.ts";
import type { PreparedPng } from "../../qr.ts";
import { Rollback, rolledBack } from "../../integrations/rollback.ts";

export interface AddOptions extends CommonOptions {
  secret?: string | true;
  hex?: string | true;
  uri?: string | true;
  generate?: boolean;
  digits?: string;
  period?: string;
  algorithm?: string;
  touch?: boolean;
  serial?: string;
  issuer?: string;
  qr?: boolean;
  qrPng?: string;
}

export interface AddResult {
  slot: SlotInfo;
  /** Only with --generate: the one copy of the secret outside the device. */
  uri?: string;
  qrPng?: string;
}

/** Parses and checks everything; returns what to send. Throws UsageError (exit 2) before any device I/O. */
export async function prepareAdd(
  nameArg: string | undefined,
  o: AddOptions,
): Promise<{ cred: Credential; name: string; alg: Algorithm; digits: number; period: number; fromArgv: boolean }> {
  const sources = (["secret", "hex", "uri", "generate"] as const).filter((k) => o[k] !== undefined && o[k] !== false);
  if (sources.length !== 1) {
    throw new UsageError(
      sources.length
        ? "Give only one of --" + sources.join(", --") + "."
        : "Give the secret: --secret B32, --hex HEX, --uri otpauth://… or --generate.",
    );
  }
  let cred: Credential;
  let fromArgv = false;
  // The ps/history note is said once the slot is stored (see register): a refused value gets one sentence.
  const read = async (spec: string | true, what: string) => {
    const r = await readSecret(spec, { what, noteLater: true });
    fromArgv = r.from === "argument";
    return r.value;
  };
  if (o.generate) cred = { key: generateKey(20) };
  else if (o.secret !== undefined) cred = { key: parseBase32(await read(o.secret, "Base32 secret")) };
  else if (o.hex !== undefined) cred = { key: parseHex(await read(o.hex, "Hex secret")) };
  else cred = await parseUri(await read(o.uri!, "otpauth:// URI"));

  const pick = <T>(flag: T | undefined, fromUri: T | undefined, what: string, show: (x: T) => string): T | undefined => {
    if (flag !== undefined && fromUri !== undefined && flag !== fromUri) {
      cred.key.fill(0);
      throw new UsageError("--" + what + " " + show(flag) + " disagrees with the URI's " + show(fromUri) + ".");
    }
    return flag ?? fromUri;
  };
  let digitsFlag: number | undefined;
  if (o.digits !== undefined) {
    digitsFlag = Number(o.digits);
    if (!LIMITS.DIGITS.includes(digitsFlag)) throw new UsageError("--digits must be 6 or 8.");
  }
  let periodFlag: number | undefined;
  if (o.period !== undefined) {
    periodFlag = Number(o.period);
    if (!Number.isInteger(periodFlag) || periodFlag < LIMITS.PERIOD_MIN || periodFlag > LIMITS.PERIOD_MAX) {
      throw new UsageError("--period must be a whole number of seconds from " + LIMITS.PERIOD_MIN + " to " + LIMITS.PERIOD_MAX + ".");
    }
  }
  let algFlag: Algorithm | undefined;
  if (o.algorithm !== undefined) {
    const a = o.algorithm.toUpperCase().replace("-", "");
    if (!ALGORITHMS.includes(a)) throw new UsageError("--algorithm must be SHA1, SHA256 or SHA512.");
    algFlag = a as Algorithm;
  }
  const digits = pick(digitsFlag, cred.digits, "digits", String) ?? 6;
  const period = pick(periodFlag, cred.period, "period", (x) => x + " s") ?? 30;
  const alg = pick(algFlag, cred.alg, "algorithm", String) ?? "SHA1";

  const name = nameArg ?? nameFromUri(cred);
  if (name === null || name === undefined) {
    cred.key.fill(0);
    throw new UsageError(o.uri !== undefined ? "The URI's label does not make a valid slot name; give NAME." : "Give the slot a NAME.");
  }
  const bad = checkName(name, "slot name");
  if (bad) {
    cred.key.fill(0);
    throw new UsageError(bad);
  }
  if (o.serial !== undefined) {
    const badSerial = checkName(o.serial, "serial");
    if (badSerial) throw new UsageError(badSerial);
  }
  return { cred, name, alg, digits, period, fromArgv };
}

/** The slot is stored but the PNG could not be put in place, and deleting the slot again failed too. */
class KeptSlotError extends HwtotpError {
  /** With --generate: the one copy of the seed, for the --json error document. */
  uri?: string;
  constructor(message: string, uri?: string) {
    super(message);
    this.exitCode = EXIT.ERROR;
    this.code = "E_PARTIAL";
    if (uri) this.uri = uri;
  }
}

export function register(program: Command): void {
  addCommonOptions(
    program
      .command("add")
      .argument("[name]", "slot name, 1–32 printable ASCII characters (default: from the URI's label)")
      .description("add a TOTP slot; its seed goes into the token and never comes out")
      .option("-s, --secret [base32]", "base32 seed (any case, spaces and = allowed); - reads stdin, @FILE a file, no value prompts")
      .option("--hex [hex]", "hex seed; - reads stdin, @FILE a file, no value prompts")
      .option("--uri [otpauth-uri]", "otpauth://totp/… URI; - reads stdin, @FILE a file, no value prompts")
      .option("-g, --generate", "generate a 20-byte seed here (CSPRNG) and print its otpauth URI once")
      .option("--digits <n>", "6 or 8 (default 6)")
      .option("--period <seconds>", "time step, 1–300 (default 30)")
      .option("-a, --algorithm <alg>", "SHA1, SHA256 or SHA512 (default SHA1)")
      .option("--touch", "release codes only after the device's button is pressed")
      .option("--serial <serial>", "a serial to record with the slot (Ceph RGW MFA)")
      .option("--issuer <issuer>", "issuer for the URI/QR (default: hwtotp)")
      .option("--qr", "print a terminal QR code of the URI to enrol a backup app (shows the secret)")
      .option("--qr-png <file>", "write the QR code as a PNG file, mode 0600 (holds the secret)"),
  ).action(async (nameArg: string | undefined, opts: AddOptions) => {
    const { cred, name, alg, digits, period, fromArgv } = await prepareAdd(nameArg, opts);
    let png: PreparedPng | null = null;
    try {
      // Everything shown or written after the store is made first: a bad PNG path or a URI too long for a
      // QR code is refused (exit 2) while the token is still untouched.
      const wantUri = opts.generate || opts.qr || opts.qrPng;
      const uri = wantUri ? buildUri({ key: cred.key, name, issuer: opts.issuer ?? cred.issuer ?? "hwtotp", alg, digits, period }) : null;
      const qrMod = uri && (opts.qr || opts.qrPng) ? await import("../../qr.ts") : null;
      const art = qrMod && opts.qr ? await qrMod.renderTerminalQr(uri!) : null;
      png = qrMod && opts.qrPng ? await qrMod.preparePng(opts.qrPng, uri!) : null;

      const slot = await withSession(opts, async (s) => {
        const info = s.info ?? (await s.hello());
        if (!info.algs.includes(alg)) {
          throw new UsageError("This board (" + info.board + ") cannot compute " + alg + "; it can do " + info.algs.join(", ") + ".");
        }
        const r = await s.add({
          name,
          key: toHex(cred.key),
          alg,
          digits,
          period,
          ...(opts.touch ? { touch: true } : {}),
          ...(opts.serial ? { serial: opts.serial } : {}),
        });
        if (png) {
          const undo = new Rollback();
          undo.add("slot " + JSON.stringify(name), () => s.delete(name));
          try {
            png.commit();
          } catch (e) {
            const why = qrMod!.pngWriteSentence(png.file, e);
            const report = await undo.run(undefined, sentenceOf);
            if (!rolledBack(report)) {
              // The slot stays: with --generate its URI must reach the user, or the seed has no other copy.
              if (opts.generate && !opts.json) process.stdout.write(uri + "\n");
              throw new KeptSlotError(
                why.replace(/\.$/, "") +
                  ", and deleting the slot again failed (" +
                  report.failed[0].message.replace(/\.$/, "") +
                  "): slot " +
                  JSON.stringify(name) +
                  " stays on the token" +
                  (opts.generate ? "; its otpauth URI is on stdout, the only copy of the seed: store it safely." : "."),
                opts.generate ? uri! : undefined,
              );
            }
            throw new UsageError(why.replace(/\.$/, "") + "; the slot was deleted again, the token is unchanged.");
          }
        }
        return r.slot;
      });
      const result: AddResult = { slot };
      if (opts.generate && uri) result.uri = uri;
      if (png) result.qrPng = png.file;
      const desc = slot.alg + ", " + slot.digits + " digits, " + slot.period + " s" + (slot.touch ? ", touch" : "");
      if (opts.json) {
        output(opts, result);
      } else {
        say("Added slot " + JSON.stringify(slot.name) + " (" + desc + ").");
        if (opts.generate && uri) {
          say("Its otpauth URI follows. This is the only copy of the seed outside the token: store it safely or enrol it now.");
          process.stdout.write(uri + "\n");
        }
      }
      if (art) {
        // The QR is shown for a human to scan; with --json it goes to stderr so stdout stays one document.
        (opts.json ? process.stderr : process.stdout).write(art);
        say("Scan it with a backup authenticator app.");
      }
      if (png) say("Wrote the QR code to " + png.file + " (mode 0600; it holds the secret: delete it after use).");
      if (fromArgv) say(ARGV_NOTE);
    } finally {
      png?.discard();
      cred.key.fill(0);
    }
  });
}
