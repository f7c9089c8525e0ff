// Reads a secret so it need not sit in shell history or on argv: from a prompt (no echo), from stdin ("-"),
// or from a file ("@FILE"). A literal value is accepted too, with a warning about ps and history.
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
}

/** Said when a secret was taken from argv. */
export const ARGV_NOTE = "Note: a secret given on the command line is visible in `ps` and kept in shell history; next time use - (stdin) or @FILE.";

/**
 * `spec` is the option's value: true (option given without a value) → prompt; "-" → stdin; "@FILE" → file;
 * anything else → the literal.
 */
export async function readSecret(spec: string | true, opts: ReadOptions): Promise<SecretSource> {
  const stdin = opts.stdin ?? process.stdin;
  const stderr = opts.stderr ?? process.stderr;
  if (spec === true || spec === "") {
    if (!stdin.isTTY) {
      throw new UsageError("No terminal to ask for the " + opts.what.toLowerCase() + " on: pass - to read it from stdin, or @FILE.");
    }
    return { from: "prompt", value: (await promptHidden(opts.what + ": ", stdin, stderr)).trim() };
  }
  if (spec === "-") {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
    const buf = Buffer.concat(chunks);
    const value = buf.toString("utf8").trim();
    buf.fill(0);
    if (!value) throw new UsageError("Read an empty " + opts.what.toLowerCase() + " from stdin.");
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
        "Cannot read the " + opts.what.toLowerCase() + " from " + file + ": " + (code === "ENOENT" ? "no such file" : code ?? "error") + ".",
      );
    }
    const value = buf.toString("utf8").trim();
    buf.fill(0);
    if (!value) throw new UsageError("The file " + file + " is empty.");
    return { from: "file " + file, value };
  }
  if (!opts.noteLater) stderr.write(ARGV_NOTE + "\n");
  return { from: "argument", value: spec };
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
