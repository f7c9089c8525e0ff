// The daemon with two real uids (root and 65534, the second through setpriv): who calls is the kernel's word
// (a forged introduction changes nothing in the log), without a policy another uid is refused even when the
// socket lets it in, and a policy lets a service uid get the codes of its slot only — add, wipe, list and
// other slots refused with E_DENIED — through the raw protocol and through the CLI; an exe rule holds.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import * as OTPAuth from "otpauth";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Daemon } from "../../../host/src/daemon.ts";
import { ensureHostBuilt } from "../../harness/cli-harness.ts";
import { type EmuTarget, startEmu } from "../../harness/emulator-harness.ts";
import { PeerReader } from "../../../host/src/daemon/peer.ts";
import { AS_NOBODY_WHY, CAN_SWITCH_UID, NOBODY, cliAsNobody, holdAsNobody, rawAsNobody } from "../../harness/peer-harness.ts";

const B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const KEY = Buffer.from(OTPAuth.Secret.fromBase32(B32).bytes).toString("hex");
const otp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) });
const NODE = fs.realpathSync(process.execPath);

let target: EmuTarget;
let base: string;
const daemons: Daemon[] = [];

/** A daemon on a socket in base/NAME/, logging into `log`. */
async function daemonIn(name: string, log: string[], policy?: string): Promise<{ d: Daemon; sock: string }> {
  const dir = path.join(base, name);
  let policyFile: string | undefined;
  if (policy !== undefined) {
    policyFile = path.join(base, name + ".yaml");
    fs.writeFileSync(policyFile, policy, { mode: 0o600 });
  }
  const sock = path.join(dir, "hwtotp.sock");
  const d = new Daemon({ socketPath: sock, device: target.address, log: (l) => log.push(l), retryMs: 100, policyFile });
  daemons.push(d);
  await d.start();
  return { d, sock };
}

beforeAll(async () => {
  await ensureHostBuilt();
  target = await startEmu({ board: "pico" });
  const s = await target.session();
  await s.add({ name: "svc", key: KEY });
  await s.add({ name: "owner", key: "22".repeat(20) });
  await s.close();
  base = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-peer-"));
  fs.chmodSync(base, 0o711); // uid 65534 may pass through, not list
});

// the emulator's device link serves one daemon at a time
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
});
afterAll(async () => {
  await target?.stop();
});

describe.skipIf(!CAN_SWITCH_UID)("the daemon and a second uid" + AS_NOBODY_WHY, () => {
  it("without a policy another uid cannot reach the socket, and is refused when a lax socket lets it in; a forged introduction changes nothing in the log", async () => {
    const log: string[] = [];
    const { sock } = await daemonIn("nopolicy", log);
    const shut = await rawAsNobody(sock, [{ op: "code", a: { name: "svc" } }]);
    expect(shut.error).toBe("EACCES");
    // a socket someone opened to all (the daemon itself never does): the kernel still says who calls
    fs.chmodSync(path.dirname(sock), 0o755);
    fs.chmodSync(sock, 0o666);
    const forged = JSON.stringify({ client: "hwtotp", pid: 1, uid: 0 });
    const r = await rawAsNobody(sock, [{ op: "code", a: { name: "svc" } }, { op: "list" }, { op: "hello" }], forged);
    expect(r.replies.map((x) => [x.id, x.e])).toEqual([
      [100, "E_DENIED"],
      [101, "E_DENIED"],
      [102, "E_DENIED"],
    ]);
    expect(r.replies[0].m).toBe("Denied: the daemon's policy has no rule for uid 65534 (node).");
    const mine = log.filter((l) => / client=\d+ /.test(l) && l.includes(" uid=" + NOBODY + " "));
    expect(mine).toHaveLength(3);
    for (const l of mine) expect(l).toContain(" pid=" + r.pid + " uid=65534 gid=65534 exe=" + JSON.stringify(NODE) + " ");
    expect(mine[0]).toMatch(/ code slot="svc" pid=\d+ .* result=E_DENIED$/);
    expect(log.join("\n")).not.toMatch(/pid=1 |uid=0 .*result=E_DENIED/);
  });

  it("a policy lets the service uid get codes of its slot only; add, wipe, list and other slots get E_DENIED", async () => {
    const log: string[] = [];
    const { sock } = await daemonIn(
      "svc",
      log,
      [
        "socket:",
        "  group: nogroup",
        "rules:",
        "  - uid: root",
        '    slots: "*"',
        '    ops: "*"',
        "  - uid: nobody",
        "    slots: [svc]",
        "    ops: [code]",
        "",
      ].join("\n"),
    );
    expect(fs.statSync(sock).mode & 0o777).toBe(0o660);
    expect(fs.statSync(sock).gid).toBe(NOBODY);
    expect(fs.statSync(path.dirname(sock)).mode & 0o777).toBe(0o750);
    const r = await rawAsNobody(sock, [
      { op: "code", a: { name: "svc" } },
      { op: "code", a: { name: "owner" } },
      { op: "code" },
      { op: "add", a: { name: "svc2", key: "33".repeat(20) } },
      { op: "wipe", a: { confirm: "wipe" } },
      { op: "list" },
      { op: "delete", a: { name: "svc" } },
      { op: "settime", a: { t: Date.now() / 1000 + 3600, force: true } },
    ]);
    const byId = new Map(r.replies.map((x) => [x.id, x]));
    const got = byId.get(100)!;
    expect(got.ok).toBe(true);
    const codes = got.d!.codes as Array<{ name: string; code: string }>;
    expect(codes[0].code).toBe(otp.generate({ timestamp: (got.d!.t as number) * 1000 }));
    expect(byId.get(101)).toMatchObject({
      ok: false,
      e: "E_DENIED",
      m: 'Denied: the daemon\'s policy does not let uid 65534 (node) use code on slot "owner".',
    });
    // code of every slot: only the slots of its rules
    expect(byId.get(102)!.ok).toBe(true);
    expect((byId.get(102)!.d!.codes as Array<{ name: string }>).map((c) => c.name)).toEqual(["svc"]);
    for (const [id, op] of [
      [103, "add"],
      [104, "wipe"],
      [105, "list"],
      [106, "delete"],
      [107, "settime"],
    ] as const) {
      expect(byId.get(id), op).toMatchObject({
        ok: false,
        e: "E_DENIED",
        m: "Denied: the daemon's policy does not let uid 65534 (node) use " + op + ".",
      });
    }
    expect((await target.inspect()).slots.map((s) => s.name).sort()).toEqual(["owner", "svc"]);
    const text = log.join("\n");
    expect(text).toMatch(new RegExp(` code slot="svc" pid=${r.pid} uid=65534 gid=65534 exe="[^"]+" client=\\d+ result=ok`));
    expect(text).toMatch(new RegExp(` wipe pid=${r.pid} uid=65534 .* result=E_DENIED`));
    expect(text).not.toContain(codes[0].code);
  });

  it("the CLI as the service uid: its code, and a sentence with exit 13 for what it may not do", async () => {
    const log: string[] = [];
    const { sock } = await daemonIn(
      "cli",
      log,
      [
        "socket: {group: nogroup}",
        "rules:",
        "  - {uid: 0, slots: '*', ops: '*'}",
        "  - {uid: 65534, slots: [svc], ops: [code, info]}",
        "",
      ].join("\n"),
    );
    const env = { PATH: process.env.PATH, HWTOTP_SOCKET: sock, HOME: "/nonexistent" };
    const c = await cliAsNobody(["code", "svc", "--json"], env);
    expect(c.code, c.stderr).toBe(0);
    const d = JSON.parse(c.stdout);
    expect(d.via).toBe("daemon");
    expect(d.codes[0].code).toBe(otp.generate({ timestamp: d.t * 1000 }));
    const add = await cliAsNobody(["add", "mine", "--secret", "-"], env, B32);
    expect(add.code).toBe(13);
    expect(add.stderr).toBe("hwtotp: Denied: the daemon's policy does not let uid 65534 (node) use add.\n");
    const other = await cliAsNobody(["code", "owner"], env);
    expect(other.code).toBe(13);
    expect(other.stderr).toMatch(/^hwtotp: Denied: .* use code on slot "owner"\.\n$/);
    expect(log.join("\n")).not.toContain(B32);
  });

  it("an exe rule: only callers running that executable (from /proc/PID/exe) are let in; SIGHUP-style reload applies it", async () => {
    const log: string[] = [];
    const policy = (exe: string) =>
      [
        "socket: {group: nogroup}",
        "rules:",
        "  - {uid: 0, slots: '*', ops: '*'}",
        `  - {uid: nobody, exe: ${exe}, slots: [svc], ops: [code]}`,
        "",
      ].join("\n");
    const { d, sock } = await daemonIn("exe", log, policy("/usr/bin/perl"));
    const no = await rawAsNobody(sock, [{ op: "code", a: { name: "svc" } }]);
    expect(no.replies[0]).toMatchObject({ e: "E_DENIED", m: "Denied: the daemon's policy has no rule for uid 65534 (node)." });
    fs.writeFileSync(d.opts.policyFile!, policy(NODE));
    expect(d.reload()).toBe(true);
    const yes = await rawAsNobody(sock, [{ op: "code", a: { name: "svc" } }]);
    expect(yes.replies[0].ok).toBe(true);
    expect(log.join("\n")).toMatch(/ reloaded policy .* exe=/);
  });
});

describe.skipIf(!CAN_SWITCH_UID)("reading credentials in batches" + AS_NOBODY_WHY, () => {
  it("one helper reads a batch of connections of two uids, each socket its own caller's", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-batch-"));
    fs.chmodSync(dir, 0o755);
    const sock = path.join(dir, "s.sock");
    const accepted: net.Socket[] = [];
    const srv = net.createServer((c) => accepted.push(c));
    await new Promise<void>((r) => srv.listen(sock, () => r()));
    fs.chmodSync(sock, 0o666);
    const holders = await Promise.all(Array.from({ length: 6 }, () => holdAsNobody(sock)));
    const mine = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<net.Socket>((r) => {
            const c = net.connect(sock, () => r(c));
          }),
      ),
    );
    while (accepted.length < 12) await new Promise((r) => setTimeout(r, 10));
    const reader = new PeerReader();
    const peers = await Promise.all(accepted.map((c) => reader.read(c)));
    const theirs = new Set(holders.map((h) => h.pid));
    for (const p of peers) {
      if (theirs.has(p.pid)) expect(p).toMatchObject({ uid: NOBODY, gid: NOBODY, groups: [], exe: NODE });
      else expect(p).toMatchObject({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), exe: NODE });
    }
    expect(
      peers
        .filter((p) => p.uid === NOBODY)
        .map((p) => p.pid)
        .sort(),
    ).toEqual([...theirs].sort());
    for (const h of holders) h.stop();
    for (const c of [...mine, ...accepted]) c.destroy();
    srv.close();
  });
});
