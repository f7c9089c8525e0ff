// The daemon as a real subprocess (`hwtotp daemon`) in front of an emulator subprocess (`hwtotp emulate`):
// socket mode 0600, the CLI using it automatically, 100 concurrent clients all answered correctly, code
// requests logged with the kernel's pid/uid/gid and exe and never the code, and an emulator killed (SIGKILL)
// and restarted.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDaemon } from "../../../host/src/daemon-client.ts";
import { Session } from "../../../host/src/session.ts";
import { BIN, ensureHostBuilt, privateEnv, runCli } from "../../harness/cli-harness.ts";

const B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const otp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) });
const expected = (t: number) => otp.generate({ timestamp: t * 1000 });
const procs: ChildProcess[] = [];
let env: NodeJS.ProcessEnv;
let sock: string;
let state: string;
let port = 0;
let emulator: ChildProcess;
let daemon: ChildProcess;
let log = "";

async function waitFor(cond: () => boolean, ms = 10000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function start(args: string[], onErr?: (s: string) => void): ChildProcess {
  const p = spawn(process.execPath, [BIN, ...args], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  p.stdout!.setEncoding("utf8");
  p.stderr!.setEncoding("utf8").on("data", (s: string) => onErr?.(s));
  procs.push(p);
  return p;
}

async function startEmulator(): Promise<ChildProcess> {
  const p = start(["emulate", "--json", "--state", state, "--listen", "127.0.0.1:" + port]);
  const info = await new Promise<{ device: string }>((resolve, reject) => {
    let out = "";
    p.stdout!.on("data", (s: string) => {
      out += s;
      if (out.includes("\n")) resolve(JSON.parse(out));
    });
    p.once("exit", (c) => reject(new Error("emulator exited " + c)));
  });
  port = Number(/:(\d+)$/.exec(info.device)![1]);
  return p;
}

function stop(p: ChildProcess, sig: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (!p.pid || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    p.once("exit", () => r());
    process.kill(p.pid!, sig);
  });
}

beforeAll(async () => {
  await ensureHostBuilt();
  env = privateEnv();
  sock = path.join(env.XDG_RUNTIME_DIR!, "d", "hwtotp.sock");
  env.HWTOTP_SOCKET = sock;
  state = path.join(env.XDG_RUNTIME_DIR!, "emu-state.json");
  emulator = await startEmulator();
  daemon = start(["daemon", "--device", "tcp://127.0.0.1:" + port, "--retry", "100"], (s) => (log += s));
  await waitFor(() => /connected: firmware/.test(log));
});

afterAll(async () => {
  for (const p of procs) await stop(p);
});

describe("hwtotp daemon", () => {
  it("listens on a 0600 socket in a 0700 directory", () => {
    expect(fs.statSync(sock).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(sock)).mode & 0o777).toBe(0o700);
  });

  it("is used by the CLI automatically, and logs code requests without the code", async () => {
    const add = await runCli(["add", "d", "--secret", "-"], { env, input: B32 });
    expect(add.code, add.stderr).toBe(0);
    const r = await runCli(["code", "d", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.via).toBe("daemon");
    expect(d.codes[0].code).toBe(expected(d.t));
    await waitFor(() =>
      new RegExp(
        `code slot="d" pid=\\d+ uid=${process.getuid!()} gid=\\d+ exe="${fs.realpathSync(process.execPath)}" client=\\d+ result=ok`,
      ).test(log),
    );
    expect(log).not.toContain(d.codes[0].code);
    expect(log).not.toContain(B32);
  });

  it("answers 100 concurrent clients, each correctly", async () => {
    const links = await Promise.all(Array.from({ length: 100 }, () => connectDaemon(sock)));
    const sessions = links.map((l) => new Session(l!));
    const rs = await Promise.all(sessions.map((s) => s.code("d")));
    for (const r of rs) expect(r.codes[0].code).toBe(expected(r.t));
    await Promise.all(sessions.map((s) => s.close()));
  });

  it("exec through the daemon hands the child the code", async () => {
    const r = await runCli(["exec", "--", process.execPath, "-e", "process.stdout.write(process.env.OS_PASSCODE)"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(otp.validate({ token: r.stdout, window: 1 })).not.toBeNull();
  });

  it("says there is no device while the emulator is dead, and reconnects when it is back", async () => {
    await stop(emulator, "SIGKILL");
    await waitFor(() => /device lost/.test(log));
    const gone = await runCli(["code", "d"], { env });
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/^hwtotp: The daemon has no device right now \(.*\)\.\n$/);
    emulator = await startEmulator();
    await waitFor(() => (log.match(/connected: firmware/g) ?? []).length >= 2);
    const back = await runCli(["code", "d", "--json"], { env });
    expect(back.code, back.stderr).toBe(0);
    const d = JSON.parse(back.stdout);
    expect(d.via).toBe("daemon");
    expect(d.codes[0].code).toBe(expected(d.t));
  });

  it("refuses a second daemon on the same socket", async () => {
    const r = await runCli(["daemon", "--device", "tcp://127.0.0.1:" + port], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Another daemon already listens/);
  });
});
