// `hwtotp daemon --policy FILE --audit FILE` as a real subprocess in front of the real firmware: every request
// in the 0600 JSON-lines audit log (op, slot, result, the kernel's pid/uid/gid and exe; never a code, a seed
// or a PIN), `hwtotp audit` reading it (--json, --since), SIGHUP re-reading the policy and reopening the log
// after a rotation, and an audit path that is a planted symlink (or a file others may read) refused.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../host/src/daemon/audit.ts";
import { BIN, ensureHostBuilt, privateEnv, runCli } from "../../harness/cli-harness.ts";
import { type EmuTarget, startEmu } from "../../harness/emulator-harness.ts";

const B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const PIN = "lantern-4482";
const WRONG = "notthat-9911";
const UID = process.getuid!();
let target: EmuTarget;
let dir: string;
let env: NodeJS.ProcessEnv;
let audit: string;
let policy: string;
let daemon: ChildProcess;
let stderr = "";

async function waitFor(cond: () => boolean, ms = 10000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const entries = (f = audit): AuditEntry[] =>
  fs
    .readFileSync(f, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
const cli = (args: string[], input?: string) => runCli(args, { env, input });

beforeAll(async () => {
  await ensureHostBuilt();
  target = await startEmu({ board: "pico", autoPress: () => true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-audit-"));
  audit = path.join(dir, "audit.jsonl");
  policy = path.join(dir, "policy.yaml");
  fs.writeFileSync(policy, `rules:\n  - {uid: ${UID}, slots: "*", ops: "*"}\n`, { mode: 0o600 });
  const sock = path.join(dir, "d", "hwtotp.sock");
  env = privateEnv({ HWTOTP_SOCKET: sock });
  daemon = spawn(process.execPath, [BIN, "daemon", "--device", target.address, "--policy", policy, "--audit", audit, "--retry", "100"], {
    env,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  daemon.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  await waitFor(() => /connected: firmware/.test(stderr));
});

afterAll(async () => {
  if (daemon?.pid && daemon.exitCode === null) {
    await new Promise((r) => {
      daemon.once("exit", r);
      process.kill(daemon.pid!, "SIGTERM");
    });
  }
  await target?.stop();
});

describe("the audit log", () => {
  it("holds every request, 0600, with the kernel's identity and never a code, a seed or a PIN", async () => {
    expect((await cli(["add", "a1", "--secret", "-"], B32)).code).toBe(0);
    const code = await cli(["code", "a1", "--json"]);
    expect(code.code, code.stderr).toBe(0);
    const shown = JSON.parse(code.stdout).codes[0].code as string;
    for (const args of [["list"], ["info"], ["time"], ["code"], ["delete", "a1", "--force"]]) {
      const r = await cli(args);
      expect(r.code, args.join(" ") + ": " + r.stderr).toBe(0);
    }
    expect((await cli(["pin", "set", "--pin", "-"], PIN)).code).toBe(0);
    expect((await cli(["lock"])).code).toBe(0);
    expect((await cli(["unlock", "--pin", "-"], WRONG)).code).toBe(9);
    expect((await cli(["unlock", "--pin", "-"], PIN)).code).toBe(0);
    expect((await cli(["pin", "clear", "--pin", "-"], PIN)).code).toBe(0);
    expect(fs.statSync(audit).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(audit, "utf8");
    for (const secret of [shown, B32, PIN, WRONG, "3132333435"]) expect(text).not.toContain(secret);
    const es = entries().filter((e) => e.ev === "request");
    const seen = es.map((e) => [e.op, e.slot ?? null, e.action ?? null, e.result]);
    expect(seen).toEqual(
      expect.arrayContaining([
        ["add", "a1", null, "ok"],
        ["code", "a1", null, "ok"],
        ["list", null, null, "ok"],
        ["hello", null, null, "ok"],
        ["time", null, null, "ok"],
        ["code", "*", null, "ok"],
        ["delete", "a1", null, "ok"],
        ["pin", null, "set", "ok"],
        ["lock", null, null, "ok"],
        ["unlock", null, null, "E_PIN"],
        ["unlock", null, null, "ok"],
        ["pin", null, "clear", "ok"],
      ]),
    );
    const node = fs.realpathSync(process.execPath);
    for (const e of es)
      expect(e).toMatchObject({
        uid: UID,
        gid: process.getgid!(),
        exe: node,
        pid: expect.any(Number),
        client: expect.any(Number),
        ms: expect.any(Number),
      });
    expect(entries().some((e) => e.ev === "press" && e.what === "delete slot a1")).toBe(true);
  }, 60000); // fifteen CLI runs, three of them stretching a PIN

  it("hwtotp audit reads it: lines, --json, --since", async () => {
    const all = await cli(["audit", audit, "--json"]);
    expect(all.code, all.stderr).toBe(0);
    const doc = JSON.parse(all.stdout);
    expect(doc.entries).toEqual(entries());
    expect(doc.skipped).toBe(0);
    const human = await cli(["audit", audit]);
    expect(human.stdout).toMatch(new RegExp(`^\\S+Z add slot="a1" pid=\\d+ uid=${UID} gid=\\d+ exe="[^"]+" client=\\d+ result=ok$`, "m"));
    const later = await cli(["audit", audit, "--json", "--since", new Date(Date.now() + 60000).toISOString()]);
    expect(JSON.parse(later.stdout).entries).toEqual([]);
    const recent = await cli(["audit", "--json", "--since", "1h"], undefined);
    expect(recent.code).toBe(2); // no file named and no HWTOTP_AUDIT
    expect(recent.stderr).toBe("hwtotp: Name the audit log (the file given to `hwtotp daemon --audit`), or set HWTOTP_AUDIT.\n");
    const viaEnv = await runCli(["audit", "--json", "--since", "1h"], { env: { ...env, HWTOTP_AUDIT: audit } });
    expect(JSON.parse(viaEnv.stdout).entries.length).toBe(doc.entries.length);
    const bad = await cli(["audit", audit, "--since", "yesterday"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^hwtotp: --since must be an ISO date or time/);
  });

  it("SIGHUP re-reads the policy (a refused request is logged) and reopens a rotated log", async () => {
    fs.writeFileSync(policy, `rules:\n  - {uid: ${UID}, slots: "*", ops: [code, info]}\n`);
    fs.renameSync(audit, audit + ".1");
    process.kill(daemon.pid!, "SIGHUP");
    await waitFor(() => /reloaded policy /.test(stderr));
    const list = await cli(["list"]);
    expect(list.code).toBe(13);
    expect(list.stderr).toBe(`hwtotp: Denied: the daemon's policy does not let uid ${UID} (node) use list.\n`);
    expect(fs.statSync(audit).mode & 0o777).toBe(0o600);
    expect(entries().map((e) => [e.op, e.result])).toEqual([["list", "E_DENIED"]]);
    // a bad policy is refused and the one in force stays
    fs.writeFileSync(policy, "rules: [\n");
    process.kill(daemon.pid!, "SIGHUP");
    await waitFor(() => /policy refused, the previous one stays in force: .* not valid YAML/.test(stderr));
    expect((await cli(["info"])).code).toBe(0);
  });

  it("refuses an audit path that is a planted symlink, or a file others may read", async () => {
    const victim = path.join(dir, "victim");
    fs.writeFileSync(victim, "untouched\n", { mode: 0o644 });
    const link = path.join(dir, "planted.jsonl");
    fs.symlinkSync(victim, link);
    const e2 = privateEnv({ HWTOTP_SOCKET: path.join(dir, "d2", "hwtotp.sock") });
    const r = await runCli(["daemon", "--device", target.address, "--audit", link], { env: e2 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(`hwtotp: Refusing the audit log ${link}: it is a symbolic link.\n`);
    expect(fs.readFileSync(victim, "utf8")).toBe("untouched\n");
    expect(fs.statSync(victim).mode & 0o777).toBe(0o644);
    const open = path.join(dir, "open.jsonl");
    fs.writeFileSync(open, "", { mode: 0o644 });
    const r2 = await runCli(["daemon", "--device", target.address, "--audit", open], { env: e2 });
    expect(r2.stderr).toBe(`hwtotp: Refusing the audit log ${open}: others may read or write it (mode 644).\n`);
  });
});
