// The client refuses daemon sockets it cannot trust (it sends seeds through them): another user's socket,
// a socket open to others, a folder others may write — and another user's group socket unless named on
// purpose, in that user's own folder. The daemon refuses such a folder too.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connectDaemon, defaultSocketPath, trustedSocket, unsafePath } from "../../../host/src/daemon-client.ts";
import { Daemon } from "../../../host/src/daemon.ts";

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function socketIn(dir: string): Promise<string> {
  const p = path.join(dir, "d.sock");
  const srv = net.createServer(() => {});
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(p, () => r()));
  fs.chmodSync(p, 0o600);
  return p;
}

const mine = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-sock-"));
  fs.chmodSync(d, 0o700);
  return d;
};

describe("daemon socket trust", () => {
  it("accepts a 0600 socket of ours in a 0700 folder", async () => {
    const p = await socketIn(mine());
    expect(unsafePath(p, "socket")).toBeNull();
    const link = await connectDaemon(p);
    expect(link).not.toBeNull();
    await link!.close();
  });

  it("refuses a socket open to others", async () => {
    const p = await socketIn(mine());
    fs.chmodSync(p, 0o666);
    const warned: string[] = [];
    expect(await connectDaemon(p, (s) => warned.push(s))).toBeNull();
    expect(warned[0]).toMatch(/is open to others \(mode 666\)/);
  });

  it.runIf(process.getuid?.() === 0)("refuses another user's socket", async () => {
    const p = await socketIn(mine());
    fs.chownSync(p, 12345, 12345);
    expect(unsafePath(p, "socket")).toMatch(/belongs to another user \(uid 12345\)/);
  });

  it.runIf(process.getuid?.() === 0)(
    "trusts another user's group socket only at a named path, in that user's folder nobody else can write",
    async () => {
      const base = mine();
      const d = path.join(base, "alice");
      fs.mkdirSync(d, { mode: 0o750 });
      const p = path.join(d, "hwtotp.sock");
      fs.renameSync(await socketIn(d), p);
      fs.chmodSync(p, 0o660);
      fs.chownSync(d, 12345, 12345);
      fs.chownSync(p, 12345, 12345);
      expect(trustedSocket(p, {})).toBeNull(); // named: not the default place
      expect(trustedSocket(p, { XDG_RUNTIME_DIR: d })).toMatch(/belongs to another user \(uid 12345\)/); // the default place
      fs.chmodSync(p, 0o666);
      expect(trustedSocket(p, {})).toMatch(/is open to others \(mode 666\)/);
      fs.chmodSync(p, 0o660);
      fs.chmodSync(d, 0o1770);
      expect(trustedSocket(p, {})).toMatch(/can be written by others/);
      fs.chmodSync(d, 0o750);
      fs.chownSync(d, 54321, 54321);
      expect(trustedSocket(p, {})).toMatch(/alice belongs to another user \(uid 54321\)/);
    },
  );

  it("refuses a folder others may write (unless sticky), also for the daemon", async () => {
    const d = mine();
    fs.chmodSync(d, 0o777);
    expect(unsafePath(d, "folder")).toMatch(/can be written by others/);
    fs.chmodSync(d, 0o1777);
    expect(unsafePath(d, "folder")).toBeNull();
    fs.chmodSync(d, 0o777);
    const daemon = new Daemon({ socketPath: path.join(d, "x.sock"), device: "tcp://127.0.0.1:1", log: () => {} });
    await expect(daemon.start()).rejects.toThrow(/can be written by others/);
  });

  it("puts the socket in $XDG_RUNTIME_DIR, else a per-user folder", () => {
    expect(defaultSocketPath({ XDG_RUNTIME_DIR: "/run/user/1000" })).toBe("/run/user/1000/hwtotp.sock");
    expect(defaultSocketPath({ HWTOTP_SOCKET: "/x/y.sock", XDG_RUNTIME_DIR: "/run/user/1000" })).toBe("/x/y.sock");
    expect(defaultSocketPath({})).toMatch(/hwtotp-\d+\/hwtotp\.sock$/);
  });
});
