// The daemon as a real subprocess (`hwtotp daemon`) in front of a stand-in device: socket mode 0600, the
// CLI using it automatically, 100 concurrent clients all answered correctly, code requests logged with
// pid/uid and never the code, and a device that goes away and comes back.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDaemon } from "../../host/src/daemon-client.ts";
import { Session } from "../../host/src/session.ts";
import { BIN, ensureHostBuilt, privateEnv, runCli } from "./cli-harness.ts";
import { type FakeDevice, startFakeDevice, totp } from "./fake-device.ts";

const KEY = "3132333435363738393031323334353637383930";
let dev: FakeDevice;
let daemon: ChildProcess;
let log = "";
let sock: string;
let env: NodeJS.ProcessEnv;

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  await ensureHostBuilt();
  dev = await startFakeDevice();
  env = privateEnv();
  sock = path.join(env.XDG_RUNTIME_DIR!, "d", "hwtotp.sock");
  env.HWTOTP_SOCKET = sock;
  daemon = spawn(process.execPath, [BIN, "daemon", "--device", dev.address, "--retry", "100"], {
    env,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  daemon.stderr!.setEncoding("utf8").on("data", (s: string) => (log += s));
  await waitFor(() => /connected: firmware/.test(log));
});

afterAll(async () => {
  if (daemon.pid && daemon.exitCode === null) {
    process.kill(daemon.pid, "SIGTERM");
    await new Promise((r) => daemon.once("exit", r));
  }
  await dev.close();
});

describe("hwtotp daemon", () => {
  it("listens on a 0600 socket in a 0700 directory", () => {
    expect(fs.statSync(sock).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(sock)).mode & 0o777).toBe(0o700);
  });

  it("is used by the CLI automatically, and logs code requests without the code", async () => {
    const add = await runCli(["add", "d", "--hex", "-"], { env, input: KEY });
    expect(add.code, add.stderr).toBe(0);
    const r = await runCli(["code", "d", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.via).toBe("daemon");
    expect(d.codes[0].code).toBe(totp(Buffer.from(KEY, "hex"), d.t));
    await waitFor(() => /code slot="d" pid=\d+ uid=\d+ client=\d+ result=ok/.test(log));
    expect(log).not.toContain(d.codes[0].code);
  });

  it("answers 100 concurrent clients, each correctly", async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => connectDaemon(sock)));
    const sessions = clients.map((l) => new Session(l!));
    const rs = await Promise.all(sessions.map((s) => s.code("d")));
    for (const r of rs) expect(r.codes[0].code).toBe(totp(Buffer.from(KEY, "hex"), r.t));
    await Promise.all(sessions.map((s) => s.close()));
  });

  it("says there is no device while it is gone, and reconnects when it is back", async () => {
    const port = dev.port;
    const slots = dev.slots;
    await dev.close();
    const gone = await runCli(["code", "d"], { env });
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/no device right now/);
    dev = await startFakeDevice({ port, slots });
    await waitFor(() => (log.match(/connected: firmware/g) ?? []).length >= 2);
    const back = await runCli(["code", "d", "--json"], { env });
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout).via).toBe("daemon");
  });

  it("refuses a second daemon on the same socket", async () => {
    const r = await runCli(["daemon", "--device", dev.address], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Another daemon already listens/);
  });
});
