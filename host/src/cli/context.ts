// Shared plumbing of every command: the common options (--device, --json, --socket, --no-daemon), how a
// session is obtained (the daemon when it runs, else the device directly), press notices on stderr, output,
// and errors → exit codes.
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { LIMITS, type PressData } from "../../../protocol/index.ts";
import { EXIT, HwtotpError, PinError, UsageError, exitCodeOf } from "../errors.ts";
import { Session, type SessionOptions, TOUCH_TIMEOUT_MS } from "../session.ts";
import { connectDaemon, defaultSocketPath, unsafePath } from "../daemon-client.ts";
import { createLink } from "../link/index.ts";
import type { DeviceAccess } from "../integrations/device.ts";
import type { RollbackReport } from "../integrations/rollback.ts";

export interface CommonOptions {
  /** --device: explicit address; bypasses the daemon. */
  device?: string;
  json?: boolean;
  socket?: string;
  /** false with --no-daemon */
  daemon?: boolean;
}

/** Adds the options every command takes. Call it on each command you register. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option(
      "-d, --device <address>",
      "device: serial path, unix:PATH (hwtotp emulate) or tcp://HOST:PORT (default: the daemon, else $HWTOTP_DEVICE, " +
        "else the one attached Espruino)",
    )
    .option("--json", "print one JSON document on stdout")
    .option("--socket <path>", "daemon socket (default: $HWTOTP_SOCKET or $XDG_RUNTIME_DIR/hwtotp.sock)")
    .option("--no-daemon", "talk to the device directly even when the daemon runs");
}

/** Where a session would go: "daemon" via its socket, or the device address. */
export interface Route {
  via: "daemon" | "direct";
  address: string;
}

/**
 * Runs fn with a session: through the daemon when its socket answers (unless --device or --no-daemon),
 * else straight to $HWTOTP_DEVICE or the one attached board. Always closes the session.
 * No hello first: it costs the device a process.memory() (a garbage collection on Espruino, ~25 ms in
 * the emulator), and the first request's reply tells the same — a bare REPL answers with its prompt and
 * errors, another protocol version with E_VERSION (see session.ts). Call `s.hello()` when you need it.
 */
export async function withSession<T>(
  opts: CommonOptions,
  fn: (s: Session, route: Route) => Promise<T>,
  sessionOpts: SessionOptions = {},
): Promise<T> {
  const { session, route } = await openSession(opts, sessionOpts);
  try {
    return await fn(session, route);
  } finally {
    trace("command done");
    await session.close();
    trace("session closed");
  }
}

/** The token as the integrations reach it: each `session(fn)` is one withSession (the daemon, else the device). */
export function deviceAccess(opts: CommonOptions): DeviceAccess {
  return { session: (fn) => withSession(opts, (s) => fn(s)) };
}

/** HWTOTP_TRACE=1: time of each step of reaching the device, on stderr (for `npm run bench` work). */
const trace = process.env.HWTOTP_TRACE
  ? (what: string) => process.stderr.write("trace " + performance.now().toFixed(1) + " ms " + what + "\n")
  : () => {};

/** What the device waits for, as the user reads it on stderr (the device's notice; protocol PressNotice). */
export function pressSentence(p: PressData): string {
  return (p.long ? "hold the button for " + LIMITS.LONG_PRESS_MS / 1000 + " s" : "press the button") + " to confirm: " + p.what;
}

/** Prints each press notice of the session's requests on stderr (with --json too: stdout keeps the document). */
export function showPresses(s: Session): void {
  s.onPress((p) => say(pressSentence(p)));
}

export async function openSession(opts: CommonOptions, sessionOpts: SessionOptions = {}): Promise<{ session: Session; route: Route }> {
  const r = await openRoute(opts, sessionOpts);
  showPresses(r.session);
  return r;
}

async function openRoute(opts: CommonOptions, sessionOpts: SessionOptions): Promise<{ session: Session; route: Route }> {
  trace("open session");
  if (!opts.device && opts.daemon !== false) {
    const sock = opts.socket ?? defaultSocketPath();
    // No socket file: no daemon, without a failed connect (connectDaemon still judges an unsafe folder).
    const absent = !fs.existsSync(sock) && unsafePath(path.dirname(sock), "folder") === null;
    const link = absent ? null : await connectDaemon(sock);
    trace(link ? "daemon connected" : "no daemon");
    // Through the daemon a request may queue behind another client's touch wait; the daemon itself answers
    // at once when it has no device, so a long timeout here never hides an unplug.
    const queued = { timeoutMs: TOUCH_TIMEOUT_MS + 5000, touchTimeoutMs: 2 * TOUCH_TIMEOUT_MS + 5000, ...sessionOpts };
    if (link) return { session: new Session(link, queued), route: { via: "daemon", address: sock } };
  }
  const address = opts.device || process.env.HWTOTP_DEVICE || (await (await import("../link/discover.ts")).discoverDevice());
  const link = await createLink(address);
  trace("link created");
  await link.open();
  trace("link open");
  return { session: new Session(link, sessionOpts), route: { via: "direct", address } };
}

/** Prints the result: JSON (one document) with --json, else the human text (if any). */
export function output(opts: CommonOptions, data: unknown, human?: () => string | void): void {
  if (opts.json) {
    process.stdout.write(JSON.stringify(data, null, 2) + "\n");
    return;
  }
  const text = human?.();
  if (text) process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

/** A sentence for the user on stderr (progress, hints). Never put a secret or a code in it. */
export function say(text: string): void {
  process.stderr.write(text + "\n");
}

/** One sentence for any error; internal errors keep their message but say they are a bug. */
/** What to do next, appended to a device's sentence when it does not say so itself. */
const NEXT: { [code: string]: [RegExp, string] } = {
  E_CLOCK: [/not set/i, "run `hwtotp time sync --force` and press the device's button (a token holding slots needs the press)"],
  E_NOSLOT: [/./, "`hwtotp list` shows the slots"],
  E_FULL: [/./, "free one with `hwtotp delete NAME`"],
  E_EXISTS: [/./, "pick another name, or `hwtotp delete NAME` first"],
  E_TOUCH: [/^(?!Not held)/, "press the device's button while its LED blinks"],
  E_TOUCH_LONG: [/^Not held/, "hold the device's button for " + LIMITS.LONG_PRESS_MS / 1000 + " s while its LED blinks fast"],
};

export function sentenceOf(err: unknown): string {
  if (err instanceof HwtotpError) {
    const next = err.code === "E_TOUCH" && /^Not held/.test(err.message) ? NEXT.E_TOUCH_LONG : NEXT[err.code];
    if (next && next[0].test(err.message) && !/hwtotp |button/.test(err.message))
      return err.message.replace(/\.$/, "") + ": " + next[1] + ".";
    return err.message;
  }
  if (err instanceof Error) return "Unexpected error: " + err.message;
  return "Unexpected error: " + String(err);
}

/** Prints the error (and, with --json, an error document on stdout) and returns the exit code. */
export function reportError(err: unknown, json: boolean): number {
  const code = exitCodeOf(err);
  const sentence = sentenceOf(err);
  process.stderr.write("hwtotp: " + sentence + "\n");
  if (json) {
    const c = err instanceof HwtotpError ? err.code : "E_HOST";
    // An error that must hand something over (add's kept slot: its generated URI) carries it as `uri`.
    const uri =
      err instanceof HwtotpError && typeof (err as { uri?: unknown }).uri === "string" ? { uri: (err as { uri?: string }).uri } : {};
    // A wrong PIN says how many tries are left (and whether the token wiped itself) for scripts too.
    const tries = err instanceof PinError && err.code === "E_PIN" && err.tries !== null ? { tries: err.tries, wiped: err.wiped } : {};
    // An enrolment whose rollback left something behind (E_PARTIAL) says what was and was not undone.
    const rb = err instanceof HwtotpError ? (err as { rollback?: RollbackReport }).rollback : undefined;
    const rollback = rb && rb.failed.length ? { rollback: rb } : {};
    process.stdout.write(
      JSON.stringify({ error: { code: c, message: sentence, exit: code, ...tries, ...rollback }, ...uri }, null, 2) + "\n",
    );
  }
  if (!(err instanceof HwtotpError) && process.env.HWTOTP_DEBUG && err instanceof Error) process.stderr.write(String(err.stack) + "\n");
  return code;
}

export { EXIT, UsageError };
