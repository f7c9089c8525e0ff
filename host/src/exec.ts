// Passcodes for child commands: a code with enough of its step left (waiting for the next step when it
// is nearly over), then the child run with OS_PASSCODE in its environment — never on its argv — with
// stdio and exit status passed through. Shared by `hwtotp exec` and the integrations (s3, keystone).
import { spawn } from "node:child_process";
import os from "node:os";
import type { CodeInfo } from "../../protocol/index.ts";
import { NoSuchSlotError, UsageError } from "./errors.ts";
import type { CodePort } from "./clock/types.ts";

/** Below this many seconds left in the step, wait for the next code (a server may see it expire). */
export const DEFAULT_MIN_LEFT = 5;

export interface FreshCodeOptions {
  name?: string;
  minLeft?: number;
  /** Told when we wait, with the seconds to wait. */
  onWait?: (seconds: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** Picks the slot (the only one, when no name is given) and returns a code with ≥ minLeft s left. */
export async function freshCode(s: CodePort, o: FreshCodeOptions = {}): Promise<CodeInfo> {
  const minLeft = o.minLeft ?? DEFAULT_MIN_LEFT;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let name = o.name;
  let c: CodeInfo;
  if (name === undefined) {
    const all = await s.code();
    if (all.codes.length === 0) throw new NoSuchSlotError("E_NOSLOT", "The token has no slots; add one with `hwtotp add`.");
    if (all.codes.length > 1) {
      throw new UsageError(
        "The token has " + all.codes.length + " slots; pick one with --name (" + all.codes.map((x) => x.name).join(", ") + ").",
      );
    }
    c = all.codes[0];
    name = c.name;
    if (c.code === null) c = (await s.code(name)).codes[0];
  } else {
    c = (await s.code(name)).codes[0];
  }
  const wanted = Math.min(minLeft, c.period / 2);
  if (c.left < wanted) {
    o.onWait?.(c.left);
    await sleep(Math.ceil(c.left * 1000) + 150);
    c = (await s.code(name)).codes[0];
  }
  return c;
}

/**
 * Runs cmd with extra environment; stdio inherited. Resolves with its exit code (128+signal when killed,
 * 127 when not found, 126 when not executable), like a shell does.
 */
export function runChild(
  cmd: string,
  args: string[],
  extraEnv: NodeJS.ProcessEnv,
  stdio: import("node:child_process").StdioOptions = "inherit",
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio, env: { ...process.env, ...extraEnv } });
    // The terminal's ^C reaches the child (same process group); we stay to report its status.
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers: [NodeJS.Signals, () => void][] = [
      ["SIGINT", () => {}],
      ["SIGTERM", forward("SIGTERM")],
      ["SIGHUP", forward("SIGHUP")],
    ];
    for (const [sig, h] of handlers) process.on(sig, h);
    const done = (code: number) => {
      for (const [sig, h] of handlers) process.removeListener(sig, h);
      resolve(code);
    };
    child.on("error", (err: NodeJS.ErrnoException) => {
      process.stderr.write(
        "hwtotp: cannot run " + cmd + ": " + (err.code === "ENOENT" ? "command not found" : (err.code ?? err.message)) + ".\n",
      );
      done(err.code === "ENOENT" ? 127 : 126);
    });
    child.on("exit", (code, signal) => {
      if (signal) done(128 + (os.constants.signals[signal] ?? 0));
      else done(code ?? 1);
    });
  });
}
