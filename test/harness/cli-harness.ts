// Runs the real hwtotp binary (host/bin/hwtotp.js → host/dist) as a subprocess, with a private
// environment: no daemon socket of the user's, no HWTOTP_DEVICE unless given.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(ROOT, "host/bin/hwtotp.js");

/** Builds the host bundle when it is missing (npm test builds it first anyway). */
export async function ensureHostBuilt(): Promise<void> {
  if (fs.existsSync(path.join(ROOT, "host/dist/hwtotp.mjs"))) return;
  const { buildHost } = await import(path.join(ROOT, "host/build.mjs"));
  await buildHost({ quiet: true });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function privateEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-cli-"));
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: dir, HWTOTP_SOCKET: path.join(dir, "none.sock"), ...extra };
  delete env.HWTOTP_DEVICE;
  if (extra.HWTOTP_DEVICE) env.HWTOTP_DEVICE = extra.HWTOTP_DEVICE;
  return env;
}

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: opts.env ?? privateEnv(),
      cwd: opts.cwd ?? ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

/** util-linux `script` is here: tests that need a terminal (no-echo prompts) get their pty from it. */
export const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
