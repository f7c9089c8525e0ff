// The daemon's policy file: what it allows (decide: by uid, by group from the kernel's groups, by exe, the
// union of a caller's rules, fenced slots), what it refuses to load (a file or folder others could change,
// a world-writable way to the socket, others let in without a socket group, wipe on fenced slots, unknown
// ops, keys, users and slot names), the socket modes it sets, and a refused reload keeping the old policy.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Daemon } from "../../../host/src/daemon.ts";
import type { Peer } from "../../../host/src/daemon/peer.ts";
import { decide, defaultPolicy, loadPolicy } from "../../../host/src/daemon/policy.ts";

const UID = process.getuid!();
const GID = process.getgid!();
const daemons: Daemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
});

function folder(mode = 0o700): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-pol-"));
  fs.chmodSync(d, mode);
  return d;
}

function policyFile(text: string, mode = 0o600, dir = folder()): string {
  const f = path.join(dir, "policy.yaml");
  fs.writeFileSync(f, text);
  fs.chmodSync(f, mode);
  return f;
}

const peer = (p: Partial<Peer>): Peer => ({ pid: 4242, uid: 5000, gid: 5000, groups: [], exe: "/usr/bin/python3.11", ...p });

const SERVICE = [
  `socket: {group: ${GID}}`,
  "rules:",
  `  - {uid: ${UID}, slots: "*", ops: "*"}`,
  "  - {uid: 5000, slots: [svc], ops: [code]}",
  "  - {uid: 5000, exe: /usr/bin/python3.11, slots: [svc, ci], ops: [list, code]}",
  "  - {group: 6000, slots: [shared], ops: read}",
  "",
].join("\n");

describe("policy decisions", () => {
  it("default: the daemon's own uid may do everything, nobody else anything", () => {
    const p = defaultPolicy(UID);
    for (const op of ["code", "add", "wipe", "settime", "pin", "unlock", "hello"])
      expect(decide(p, peer({ uid: UID }), op, "x").ok).toBe(true);
    expect(decide(p, peer({ uid: UID + 1 }), "code", "x")).toEqual({
      ok: false,
      why: "Denied: the daemon's policy has no rule for uid " + (UID + 1) + " (python3.11).",
    });
  });

  it("a caller's rules add up; slots fence code, add and delete; list and code-all get the union to filter by", () => {
    const p = loadPolicy(policyFile(SERVICE), UID);
    const svc = peer({});
    expect(decide(p, svc, "code", "svc").ok).toBe(true);
    expect(decide(p, svc, "code", "ci").ok).toBe(true); // through the exe rule
    expect(decide(p, { ...svc, exe: "/usr/bin/perl" }, "code", "ci")).toEqual({
      ok: false,
      why: 'Denied: the daemon\'s policy does not let uid 5000 (perl) use code on slot "ci".',
    });
    expect(decide(p, { ...svc, exe: null }, "list", undefined)).toEqual({
      ok: false,
      why: "Denied: the daemon's policy does not let uid 5000 use list.",
    });
    const all = decide(p, svc, "code", undefined);
    expect(all.ok && all.slots !== "*" && [...all.slots].sort()).toEqual(["ci", "svc"]);
    expect(decide(p, svc, "add", "svc").ok).toBe(false);
  });

  it("a group rule matches the kernel's gid or supplementary groups", () => {
    const p = loadPolicy(policyFile(SERVICE), UID);
    expect(decide(p, peer({ uid: 7000, gid: 6000 }), "code", "shared").ok).toBe(true);
    expect(decide(p, peer({ uid: 7000, groups: [10, 6000] }), "info", undefined).ok).toBe(true);
    expect(decide(p, peer({ uid: 7000, groups: [10] }), "code", "shared").ok).toBe(false);
    expect(decide(p, peer({ uid: 7000, gid: 6000 }), "delete", "shared").ok).toBe(false);
  });
});

describe("policies refused", () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      "others without a socket group",
      "rules:\n  - {uid: 5000, slots: [a], ops: [code]}\n",
      /rule 1 \(uid 5000\) lets others in, but the socket would be 0600: name the group they reach it through \(socket: \{group: NAME\}\)\.$/,
    ],
    ["a group rule without a socket group", "rules:\n  - {group: 6000, slots: [a], ops: [code]}\n", /rule 1 \(group 6000\) lets others in/],
    [
      "wipe on fenced slots",
      `socket: {group: ${GID}}\nrules:\n  - {uid: 5000, slots: [a], ops: [code, wipe]}\n`,
      /rule 1: wipe erases every slot, so a rule fenced to some slots cannot allow it\.$/,
    ],
    [
      "an unknown op",
      "rules:\n  - {uid: 0, slots: '*', ops: [code, steal]}\n",
      /rule 1: unknown op "steal" \(known: code, list, info, time, add, delete, wipe, settime, pin, unlock, lock, read, manage, \*\)\.$/,
    ],
    [
      "an unknown key",
      "rules:\n  - {uid: 0, slot: '*', ops: '*'}\n",
      /rule 1: unknown key "slot" \(known: uid, group, exe, slots, ops\)\.$/,
    ],
    ["an unknown user", "rules:\n  - {uid: no-such-user-hw, slots: '*', ops: '*'}\n", /rule 1: no user named no-such-user-hw\.$/],
    [
      "a bad slot name",
      "rules:\n  - {uid: 0, slots: [' lead'], ops: '*'}\n",
      /rule 1: The slot name must not start or end with a space \(" lead"\)\.$/,
    ],
    [
      "a relative exe",
      "rules:\n  - {uid: 0, exe: node, slots: '*', ops: '*'}\n",
      /rule 1: exe must be an absolute path \(as \/proc\/PID\/exe shows it\)\.$/,
    ],
    ["no rules", "socket: {group: 0}\n", /rules must be a list\.$/],
    ["not YAML", "rules: [\n", /is not valid YAML: /],
  ];
  it.each(cases)("%s", (_what, text, why) => {
    expect(() => loadPolicy(policyFile(text), UID)).toThrow(why);
  });

  it("a policy file others may write, or in a folder they may write", () => {
    const open = policyFile(SERVICE, 0o666);
    expect(() => loadPolicy(open, UID)).toThrow(
      `Refusing the policy ${open}: ${open} is writable by everyone (mode 666), so someone else could rewrite who may use the token.`,
    );
    const grp = policyFile(SERVICE, 0o620);
    expect(() => loadPolicy(grp, UID)).toThrow(/is writable by its group \(mode 620\)/);
    const dir = folder(0o777);
    const inOpen = policyFile(SERVICE, 0o600, dir);
    expect(() => loadPolicy(inOpen, UID)).toThrow(`${dir} is writable by everyone (mode 777)`);
    const sticky = folder(0o1777);
    expect(loadPolicy(policyFile(SERVICE, 0o600, sticky), UID).rules).toHaveLength(4);
  });

  it.runIf(UID === 0)("a policy file of another user", () => {
    const f = policyFile(SERVICE);
    fs.chownSync(f, 5000, 5000);
    expect(() => loadPolicy(f, UID)).toThrow(/belongs to uid 5000/);
  });
});

describe("the socket a policy opens to a group", () => {
  async function start(policy: string, sockDir: string, log: string[] = []): Promise<Daemon> {
    const d = new Daemon({
      socketPath: path.join(sockDir, "hwtotp.sock"),
      device: "tcp://127.0.0.1:1",
      retryMs: 60000,
      log: (l) => log.push(l),
      policyFile: policyFile(policy),
    });
    daemons.push(d);
    await d.start();
    return d;
  }

  it("gets 0660 with the group, in a 0750 folder; without the group 0600 again after a reload", async () => {
    const base = folder(0o711);
    const dir = path.join(base, "d");
    const log: string[] = [];
    const d = await start(SERVICE, dir, log);
    const sock = d.opts.socketPath;
    expect([fs.statSync(sock).mode & 0o777, fs.statSync(sock).gid]).toEqual([0o660, GID]);
    expect([fs.statSync(dir).mode & 0o777, fs.statSync(dir).gid]).toEqual([0o750, GID]);
    expect(log.join("\n")).toMatch(/listening on .* \(mode 0660, group \d+\)/);
    fs.writeFileSync(d.opts.policyFile!, `rules:\n  - {uid: ${UID}, slots: "*", ops: "*"}\n`);
    expect(d.reload()).toBe(true);
    expect(fs.statSync(sock).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  });

  it("is refused in a folder that holds other things, behind a world-writable folder, or where the group cannot pass", async () => {
    const shared = folder(0o711);
    fs.writeFileSync(path.join(shared, "bus"), "");
    await expect(start(SERVICE, shared)).rejects.toThrow(
      /the socket group needs a folder of its own for the socket, and .* holds 1 other entry \(use --socket\)\.$/,
    );
    expect(fs.existsSync(path.join(shared, "hwtotp.sock"))).toBe(false);
    const open = folder(0o777);
    await expect(start(SERVICE, path.join(open, "d"))).rejects.toThrow(
      `others would reach the socket through ${open} is writable by everyone (mode 777).`,
    );
    const closed = folder(0o700);
    await expect(start(SERVICE, path.join(closed, "d"))).rejects.toThrow(`cannot reach the socket: ${closed} is mode 700.`);
  });

  it("a refused reload leaves the previous policy in force", async () => {
    const base = folder(0o711);
    const log: string[] = [];
    const d = await start(SERVICE, path.join(base, "d"), log);
    fs.writeFileSync(d.opts.policyFile!, "rules:\n  - {uid: 5000, slots: [a], ops: [code]}\n");
    expect(d.reload()).toBe(false);
    expect(log.at(-1)).toMatch(/ policy refused, the previous one stays in force: .* lets others in, but the socket would be 0600/);
    expect(d.policy.rules).toHaveLength(4);
    expect(fs.statSync(d.opts.socketPath).mode & 0o777).toBe(0o660);
  });
});
