// Reads a secret so it need not sit in shell history or on argv: from a prompt (no echo), from stdin ("-"),
// or from a file ("@FILE"). A literal value is accepted too, with a warning about ps and history, except
// where the caller refuses it (a PIN: `literal: false`).
import fs from "node:fs";
import { UsageError } from "./errors.ts";

export interface SecretSource {
  /** Where the value came from, for messages: "prompt", "stdin", "file …", "argument". */
  from: string;
  value: string;
}

export interface ReadOptions {
  /** What to call it in the prompt, e.g. "Base32 secret". */
  what: string;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
  /**
   * The caller prints ARGV_NOTE itself once the secret was accepted (`add` does, after the slot is stored),
   * so a refused value gets one sentence, not two. Default: the note is printed here.
   */
  noteLater?: boolean;
  /** The option the spec came from (e.g. "--pin"), named when a literal is refused. */
  option?: string;
  /** false: refuse a literal value (only a prompt, - or @FILE), with a sentence that does not repeat it. */
  literal?: boolean;
  /** On the prompt, ask twice and refuse when the two answers differ (a new PIN). */
  confirm?: boolean;
}

/** "Base32 secret" → "base32 secret", "PIN" → "PIN", "New PIN" → "new PIN". */
function inSentence(what: string): string {
  return what.replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase());
}

/** Said when a secret was taken from argv. */
export const ARGV_NOTE =
  "Note: a secret given on the command line is visible in `ps` and kept in shell history; next time use - (stdin) or @FILE.";

/**
 * `spec` is the option's value: true (option given without a value) → prompt; "-" → stdin; "@FILE" → file;
 * anything else → the literal.
 */
export async function readSecret(spec: string | true, opts: ReadOptions): Promise<SecretSource> {
  const stdin = opts.stdin ?? process.stdin;
  const stderr = opts.stderr ?? process.stderr;
  const what = inSentence(opts.what);
  checkSecretSpec(spec, opts);
  if (spec === true || spec === "") {
    const value = (await promptHidden(opts.what + ": ", stdin, stderr)).trim();
    if (opts.confirm && (await promptHidden(opts.what + " again: ", stdin, stderr)).trim() !== value) {
      throw new UsageError("The two entries of the " + what + " differ; nothing was changed.");
    }
    return { from: "prompt", value };
  }
  if (spec === "-") {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
    const buf = Buffer.concat(chunks);
    const value = buf.toString("utf8").trim();
    buf.fill(0);
    if (!value) throw new UsageError("Read an empty " + what + " from stdin.");
    return { from: "stdin", value };
  }
  if (spec.startsWith("@")) {
    const file = spec.slice(1);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(
        "Cannot read the " +
          what +
          " from " +
          file +
          ": " +
          (code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : (code ?? "error")) +
          ".",
      );
    }
    const value = buf.toString("utf8").trim();
    buf.fill(0);
    if (!value) throw new UsageError("The file " + file + " is empty.");
    // A secret that must never sit on argv (a PIN) should not sit in a file others can read either.
    const mode = opts.literal === false ? modeOf(file) : 0;
    if (mode & 0o044)
      stderr.write(
        "Note: " + file + " can be read by other users (mode " + (mode & 0o777).toString(8).padStart(4, "0") + "); keep it 0600.\n",
      );
    return { from: "file " + file, value };
  }
  if (!opts.noteLater) stderr.write(ARGV_NOTE + "\n");
  return { from: "argument", value: spec };
}

function modeOf(file: string): number {
  try {
    return fs.statSync(file).mode;
  } catch {
    return 0;
  }
}

/**
 * What readSecret would refuse before reading anything: a prompt without a terminal, and a literal value
 * where none is allowed (`literal: false`). Call it early to refuse bad input before reaching the device.
 */
export function checkSecretSpec(spec: string | true, opts: ReadOptions): void {
  const what = inSentence(opts.what);
  const opt = opts.option ? opts.option + " " : "";
  if (spec === true || spec === "") {
    if (!(opts.stdin ?? process.stdin).isTTY)
      throw new UsageError("No terminal to ask for the " + what + " on: pass " + opt + "- to read it from stdin, or " + opt + "@FILE.");
    return;
  }
  if (spec === "-" || spec.startsWith("@") || opts.literal !== false) return;
  throw new UsageError(
    (opts.option ?? "The option") +
      " takes - (read the " +
      what +
      " from stdin) or @FILE, never the " +
      what +
      " itself (the command line shows in `ps` and shell history); leave it out to be asked on the terminal.",
  );
}

function promptHidden(question: string, stdin: NodeJS.ReadStream, stderr: NodeJS.WriteStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = "";
    const wasRaw = stdin.isRaw;
    // Echo off before the prompt shows: a fast typist (or a script) must not beat the mode change.
    stdin.setRawMode?.(true);
    stderr.write(question);
    stdin.resume();
    stdin.setEncoding("utf8");
    const done = (err?: Error) => {
      stdin.removeListener("data", onData);
      stdin.setRawMode?.(wasRaw);
      stdin.pause();
      stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return done();
        if (ch === "\u0003") return done(new UsageError("Cancelled."));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else if (ch >= " ") value += ch;
      }
    };
    stdin.on("data", onData);
  });
}
