// End to end against a real Keystone (Debian 12's Zed on 127.0.0.1) and the real openstack CLI, with the
// firmware running in the emulator: enrol (with the user's password, and by an admin without it), password-only
// refused, exec, a clock one step ahead refused, the token cache (many calls, one code), the keystoneauth
// plugin (auth_type hwtotp: no wrapper, receipts, the daemon or its fallback, the shared cache), and no
// passcode/password/secret on any argv, in the openstack process's environment or in any log.
// Timings are printed, never asserted.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as OTPAuth from "otpauth";
import { createEmulator, type Emulator } from "../../firmware/emulator/index.ts";
import { watchCmdlines } from "../harness/e2e/argv-watch.ts";
import { watchEnviron } from "../harness/e2e/environ-watch.ts";
import { ensureKeystonePackages, startKeystone, type Keystone, type KeystoneUser } from "../harness/e2e/keystone.ts";
import { awayFromStepEnd } from "../harness/steps.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HWTOTP = join(ROOT, "host/bin/hwtotp.js");
const SUITE_T0 = Date.now();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command asynchronously (the emulator in this process must keep answering). */
function run(cmd: string, args: string[], o: { env: NodeJS.ProcessEnv; input?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { env: o.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - t0 }));
    p.stdin.end(o.input ?? "");
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe("Keystone end to end (real server, real openstack CLI, token in the emulator)", () => {
  let ks: Keystone;
  let alice: KeystoneUser;
  let bob: KeystoneUser;
  let carol: KeystoneUser; // enrolled by the admin, who does not know her password
  let dave: KeystoneUser; // no TOTP credential, no MFA rule: the plugin never asks the token
  let daemon: ChildProcess | null = null;
  let daemonLog = "";
  let emu: Emulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let watch: ReturnType<typeof watchCmdlines>;
  let deviceReplies = { codes: 0 };
  let credentialId = "";
  const codesSeen = new Set<string>();
  const report: Record<string, string | number> = {};
  const getCredential = async (): Promise<{ credential: { type: string; blob: string; project_id: string | null } }> =>
    (await fetch(`${ks.url}/credentials/${credentialId}`, { headers: { "X-Auth-Token": await ks.adminToken() } })).json() as never;
  const hw = (args: string[], input?: string, extra: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, [HWTOTP, ...args], { env: { ...env, ...extra }, input });

  // The plugin's world: a Python user site of its own (PYTHONUSERBASE), and a daemon on a socket of its own.
  const pyEnv = (): NodeJS.ProcessEnv => ({ PYTHONUSERBASE: join(dir, "pyuser"), XDG_CACHE_HOME: join(dir, "xdg-cache") });
  const daemonSocket = () => join(dir, "run", "hwtotp.sock");
  const plugged = (): NodeJS.ProcessEnv => ({ ...env, ...pyEnv(), HWTOTP_SOCKET: daemonSocket() });
  const openstack = (cloud: string, extra: NodeJS.ProcessEnv = {}) =>
    run("openstack", ["--os-cloud", cloud, "project", "list", "-f", "value"], { env: { ...plugged(), ...extra } });
  const startDaemon = async () => {
    mkdirSync(join(dir, "run"), { recursive: true, mode: 0o700 });
    daemonLog = "";
    const p = spawn(process.execPath, [HWTOTP, "daemon", "--socket", daemonSocket()], {
      env,
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
    });
    p.stderr!.on("data", (d: Buffer) => (daemonLog += d.toString()));
    daemon = p;
    const end = Date.now() + 20000;
    while (!/connected: firmware/.test(daemonLog)) {
      if (p.exitCode !== null || Date.now() > end) throw new Error("the daemon did not start: " + daemonLog);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stopDaemon = async () => {
    const p = daemon;
    daemon = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    process.kill(p.pid!, "SIGTERM"); // by its pid
    await gone;
  };

  beforeAll(async () => {
    report["apt install (s)"] = ensureKeystonePackages();
    watch = watchCmdlines();
    const t0 = Date.now();
    ks = await startKeystone();
    report["keystone start-up (s)"] = (Date.now() - t0) / 1000;
    report[`  keystone-manage steps, ${ks.timings.setupPath} (s)`] = ks.timings.setup;
    report["  uwsgi until /v3 answers (s)"] = ks.timings.serve;
    alice = await ks.createUser("alice", "demo");
    bob = await ks.createUser("bob", "demo");
    carol = await ks.createUser("carol", "demo");
    dave = await ks.createUser("dave", "demo");

    // autoPress: a user at the board, who confirms the deletes of a rollback
    emu = createEmulator({ board: "pico", clock: Date.now() / 1000, autoPress: true });
    await emu.start();
    emu.onData((s) => {
      // Count code replies the device sends, to count codes spent.
      deviceReplies.codes += (s.match(/"codes":/g) ?? []).length;
    });
    const { port } = await emu.listen({ port: 0 });

    dir = mkdtempSync(join(tmpdir(), "hwtotp-e2e-ks-"));
    writeFileSync(
      join(dir, "clouds.yaml"),
      `# e2e clouds — this comment must survive hwtotp keystone cloud
clouds:
  admin:   # the bootstrap admin
    auth:
      auth_url: ${ks.url}
      username: admin
      password: "${ks.admin.password}"
      user_domain_name: Default
      project_name: admin
      project_domain_name: Default
    identity_api_version: 3
  alice-password-only:
    auth:
      auth_url: ${ks.url}
      username: alice
      password: "${alice.password}"
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
    identity_api_version: 3
  bob-password:
    auth:
      auth_url: ${ks.url}
      username: bob
      password: "${bob.password}"
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
    identity_api_version: 3
  carol-password-only:
    auth:
      auth_url: ${ks.url}
      username: carol
      password: "${carol.password}"
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
    identity_api_version: 3
  dave:
    auth_type: hwtotp
    auth:
      auth_url: ${ks.url}
      username: dave
      password: "${dave.password}"
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
    identity_api_version: 3
`,
      { mode: 0o600 },
    );
    env = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OS_") && !k.startsWith("HWTOTP_")) env[k] = v;
    Object.assign(env, {
      HWTOTP_DEVICE: `tcp://127.0.0.1:${port}`,
      HWTOTP_SOCKET: join(dir, "no-daemon.sock"), // never someone else's daemon
      HWTOTP_TOKEN_CACHE: join(dir, "cache", "keystone-tokens.json"),
      OS_CLIENT_CONFIG_FILE: join(dir, "clouds.yaml"),
      PYTHONWARNINGS: "ignore",
    });
  }, 900000);

  afterAll(async () => {
    await stopDaemon();
    await watch?.stop();
    await emu?.stop();
    await ks?.stop(); // by its pid, also when a test failed
    if (dir) rmSync(dir, { recursive: true, force: true });
    report["e2e suite wall time (s)"] = (Date.now() - SUITE_T0) / 1000;
    console.log(
      "\nKeystone e2e measurements:\n" +
        Object.entries(report)
          .map(([k, v]) => `  ${k}: ${v}`)
          .join("\n"),
    );
  });

  it("enrols alice: seed into the token, credential, MFA rule, verified", async () => {
    const r = await hw(
      ["keystone", "enroll", "--os-cloud", "admin", "--user-id", "alice", "--user-password", "-", "--credential-project", "demo", "--json"],
      alice.password + "\n",
    );
    expect(r.stderr).not.toMatch(/WARNING/);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.user).toEqual({ id: alice.id, name: "alice" });
    expect(o.slot).toBe("keystone");
    expect(o.mfa.after).toEqual({ rules: [["password", "totp"]], enabled: true });
    expect(o.verified.method).toBe("password"); // --user-password: the password check, kept as an option
    expect(o.verified.mfaLogin).toBe(true);
    expect(o.verified.passwordOnly).toBe("refused-mfa");
    credentialId = o.credentialId;
    // The credential Keystone holds is the seed in the token: Keystone's form, and codes agree.
    const cred = await getCredential();
    expect(cred.credential.type).toBe("totp");
    expect(cred.credential.blob).toMatch(/^[A-Z2-7]{32}$/);
    expect(cred.credential.project_id).toBe(alice.projectId);
    const list = await hw(["list", "--json"]);
    expect(JSON.parse(list.stdout).slots.map((s: { name: string }) => s.name)).toContain("keystone");
  });

  it("password alone is refused by the openstack CLI: Not all required auth rules were satisfied (either order)", async () => {
    const r = await run("openstack", ["--os-cloud", "alice-password-only", "project", "list"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Not all required auth rules were satisfied: \[\['(password', 'totp|totp', 'password)'\]\]/);
  });

  it("writes alice's v3multifactor cloud, keeping the other entries and comments", async () => {
    const before = readFileSync(join(dir, "clouds.yaml"), "utf8");
    const r = await hw(
      ["keystone", "cloud", "alice", "--auth-url", ks.url, "--username", "alice", "--project", "demo", "--password", "-"],
      alice.password + "\n",
    );
    expect(r.code).toBe(0);
    const after = readFileSync(join(dir, "clouds.yaml"), "utf8");
    expect(after.startsWith(before)).toBe(true);
    expect(after).toContain("auth_type: v3multifactor");
    expect(statSync(join(dir, "clouds.yaml")).mode & 0o777).toBe(0o600);
  });

  it("hwtotp exec -- openstack --os-cloud alice project list succeeds (and is timed against oathtool)", async () => {
    const r = await hw(["exec", "--", "openstack", "--os-cloud", "alice", "project", "list", "-f", "value"]);
    expect(r.stderr).not.toMatch(/hwtotp:|Error|HTTP 4/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${alice.projectId} demo`);

    // Same run, interleaved: hwtotp exec against OS_PASSCODE=$(oathtool …) with the seed read from a 0600 file.
    const cred = await getCredential();
    const keyFile = join(dir, "seed.b32");
    writeFileSync(keyFile, cred.credential.blob, { mode: 0o600 });
    const a: number[] = [];
    const b: number[] = [];
    const c: number[] = [];
    const d: number[] = []; // hwtotp's own cost: exec -- true
    const n: number[] = []; // node -e 0
    for (let i = 0; i < 9; i++) {
      const x = await hw(["exec", "--min-left", "0", "--", "openstack", "--os-cloud", "alice", "project", "list", "-f", "value"]);
      expect(x.code).toBe(0);
      a.push(x.ms);
      const y = await run(
        "bash",
        ["-c", `OS_PASSCODE=$(oathtool --totp -b - < '${keyFile}') exec openstack --os-cloud alice project list -f value`],
        { env },
      );
      expect(y.code).toBe(0);
      b.push(y.ms);
      const z = await hw(["exec", "--token-cache", "--", "openstack", "--os-cloud", "alice", "project", "list", "-f", "value"]);
      expect(z.code).toBe(0);
      c.push(z.ms);
      d.push((await hw(["exec", "--min-left", "0", "--", "true"])).ms);
      n.push((await run(process.execPath, ["-e", "0"], { env })).ms);
    }
    rmSync(keyFile);
    report["hwtotp exec -- openstack project list, median of 9 (ms)"] = Math.round(median(a));
    report["OS_PASSCODE=$(oathtool …) openstack project list, median of 9 (ms)"] = Math.round(median(b));
    report["  means (ms)"] = `${Math.round(a.reduce((x, y) => x + y) / a.length)} vs ${Math.round(b.reduce((x, y) => x + y) / b.length)}`;
    report["ratio"] = (median(a) / median(b)).toFixed(3);
    report["hwtotp exec --token-cache -- openstack project list, median of 9 (ms)"] = Math.round(median(c));
    report["  ratio to oathtool"] = (median(c) / median(b)).toFixed(3);
    report["hwtotp exec -- true / node -e 0, medians (ms)"] = `${Math.round(median(d))} / ${Math.round(median(n))}`;
    // Empty the cache again for the next test, through the CLI (it also revokes the token).
    const out = await hw(["keystone", "logout", "--all", "--json"]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ dropped: 1, revoked: 1 });
  });

  it("the token cache serves 100 openstack calls with one code", async () => {
    const codesBefore = deviceReplies.codes;
    let failures = 0;
    let logins = 0;
    let next = 0;
    const worker = async () => {
      while (next < 100) {
        next++;
        const r = await hw(["exec", "--token-cache", "--", "openstack", "--os-cloud", "alice", "project", "list", "-f", "value"]);
        if (r.code !== 0 || !r.stdout.includes(alice.projectId)) failures++;
        if (/Logged in to Keystone/.test(r.stderr)) logins++;
      }
    };
    const t0 = Date.now();
    await Promise.all([worker(), worker(), worker()]); // concurrent: the cache lock must still spend one code
    const spent = deviceReplies.codes - codesBefore;
    report["codes per 100 openstack calls with --token-cache"] = spent;
    report["Keystone logins for those 100 calls"] = logins;
    report["100 calls with --token-cache, 3 at a time (s)"] = (Date.now() - t0) / 1000;
    expect(failures).toBe(0);
    expect(logins).toBe(1);
    expect(spent).toBe(1);
    const cache = join(dir, "cache", "keystone-tokens.json");
    expect(statSync(cache).mode & 0o777).toBe(0o600);
    // The child got a token, not a passcode or a password.
    const e = await hw(
      [
        "exec",
        "--token-cache",
        "--",
        "sh",
        "-c",
        'test -z "$OS_PASSCODE$OS_PASSWORD$OS_CLOUD" && test -n "$OS_TOKEN" && echo "$OS_AUTH_TYPE $OS_PROJECT_ID"',
      ],
      undefined,
      { OS_CLOUD: "alice" },
    );
    expect(e.code).toBe(0);
    expect(e.stdout.trim()).toBe(`token ${alice.projectId}`);
  }, 600000);

  it("a user without admin rights enrols themself: credential and login verified, the admin's command printed", async () => {
    const r = await hw(["keystone", "enroll", "--os-cloud", "bob-password", "--name", "bob", "--json"]);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.user).toEqual({ id: bob.id, name: "bob" });
    // Verified by a TOTP-only login (no rule yet: Keystone gave a token for the code, revoked at once).
    expect(o.verified).toMatchObject({
      method: "totp",
      codeAccepted: true,
      mfaLogin: false,
      totpOnly: "not-checked",
      passwordOnly: "not-checked",
    });
    expect(o.mfa.changed).toBe(false);
    expect(r.stderr).toContain(`openstack user set --multi-factor-auth-rule password,totp --enable-multi-factor-auth ${bob.id}`);
  });

  it("an admin enrols carol without her password: verified by TOTP-only logins, and her password alone is refused", async () => {
    // No --user-password, nothing on stdin, no $HWTOTP_KEYSTONE_USER_PASSWORD: the admin does not know it.
    const r = await hw(["keystone", "enroll", "--os-cloud", "admin", "--user-id", "carol", "--name", "carol", "--json"]);
    expect(r.stderr).not.toMatch(/WARNING|password of carol/i);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.user).toEqual({ id: carol.id, name: "carol" });
    expect(o.mfa.after).toEqual({ rules: [["password", "totp"]], enabled: true });
    // A code alone got an auth receipt: the code is right, and Keystone still wants the password.
    expect(o.verified).toMatchObject({
      method: "totp",
      codeAccepted: true,
      mfaLogin: false,
      totpOnly: "receipt",
      passwordOnly: "not-checked",
    });
    expect(o.verified.requiredAuthMethods.map((m: string[]) => [...m].sort())).toEqual([["password", "totp"]]);
    // What the enrolment could not check without the password, checked here with it: password alone fails.
    const p = await run("openstack", ["--os-cloud", "carol-password-only", "project", "list"], { env });
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/Not all required auth rules were satisfied/);
  });

  it("enrolment over plain http:// to another host is refused without --insecure, before any password is read", async () => {
    const r = await hw(
      ["keystone", "enroll", "--auth-url", "http://192.0.2.10:5000/v3", "--username", "admin", "--password", "-", "--json"],
      "not-read\n",
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Refusing to enrol over http:\/\/192\.0\.2\.10:5000\/v3: .*plain http:\/\/ to another host.*--insecure/);
    expect(JSON.parse(r.stdout).error.code).toBe("E_USAGE");
  });

  it("with the token's clock one step ahead: Keystone refuses its code, and an enrolment rolls back", async () => {
    // The same command succeeded above with the clock right; now the token runs 30 s ahead.
    const t = emu.control.now();
    emu.control.setClock(t + 30);
    try {
      const r = await hw(["exec", "--name", "keystone", "--", "openstack", "--os-cloud", "alice", "project", "list"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/requires authentication.*\(HTTP 401\)/);

      const e = await hw(["keystone", "enroll", "--os-cloud", "bob-password", "--name", "bob2"]);
      expect(e.code).toBe(10);
      expect(e.stderr).toMatch(/rolled back/);
      expect(e.stderr).toMatch(/Rolled back: credential .* in Keystone/);
      expect(e.stderr).toMatch(/Rolled back: slot "bob2" on the token/);
      const slots = JSON.parse((await hw(["list", "--json"])).stdout).slots.map((x: { name: string }) => x.name);
      expect(slots).not.toContain("bob2");
      const creds = await (
        await fetch(`${ks.url}/credentials?user_id=${bob.id}&type=totp`, { headers: { "X-Auth-Token": await ks.adminToken() } })
      ).json();
      expect((creds as { credentials: unknown[] }).credentials).toHaveLength(1); // bob's first one only
    } finally {
      emu.control.setClock(emu.control.now() - 30);
    }
  });

  // ---- the keystoneauth plugin: `openstack --os-cloud hw …` with no wrapper ----

  let envWatch: ReturnType<typeof watchEnviron> | null = null;

  it("hwtotp keystone plugin install --user puts the plugin where Debian's openstack CLI finds it (no PyPI)", async () => {
    envWatch = watchEnviron("/usr/bin/openstack");
    await envWatch.ready;
    const r = await hw(["keystone", "plugin", "install", "--user", "--json"], undefined, pyEnv());
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o).toMatchObject({ action: "install", scope: "user", python: "/usr/bin/python3", verified: true });
    expect(o.dir).toBe(join(dir, "pyuser", "lib", `python${o.pythonVersion.split(".").slice(0, 2).join(".")}`, "site-packages"));
    expect(readFileSync(join(o.dir, "hwtotp_keystoneauth-0.1.0.dist-info", "entry_points.txt"), "utf8")).toContain(
      "hwtotp = hwtotp_keystoneauth.loader:HwtotpLoader",
    );
    report["plugin tried with"] = `Python ${o.pythonVersion}, keystoneauth1 ${o.keystoneauth}`;
    // Again: replaces itself; uninstall removes it; the last install stays for the tests below.
    expect((await hw(["keystone", "plugin", "install", "--user"], undefined, pyEnv())).code).toBe(0);
    const u = await hw(["keystone", "plugin", "uninstall", "--user", "--json"], undefined, pyEnv());
    expect(JSON.parse(u.stdout)).toMatchObject({ action: "uninstall", verified: true });
    expect(existsSync(join(o.dir, "hwtotp_keystoneauth"))).toBe(false);
    expect((await hw(["keystone", "plugin", "install", "--user"], undefined, pyEnv())).code).toBe(0);

    const c = await hw(
      [
        "keystone",
        "cloud",
        "hw",
        "--plugin",
        "--slot",
        "keystone",
        "--auth-url",
        ks.url,
        "--username",
        "alice",
        "--project",
        "demo",
        "--password",
        "-",
      ],
      alice.password + "\n",
    );
    expect(c.code).toBe(0);
    const yaml = readFileSync(join(dir, "clouds.yaml"), "utf8");
    expect(yaml).toMatch(/ {2}hw:\n {4}auth_type: hwtotp\n/);
    expect(yaml).toContain("hwtotp_slot: keystone");
  });

  it("openstack --os-cloud hw project list works with no wrapper: the plugin asks the daemon for one code", async () => {
    await startDaemon();
    expect((await hw(["keystone", "logout", "--all"])).code).toBe(0);
    await awayFromStepEnd();
    const before = deviceReplies.codes;
    const r = await openstack("hw");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${alice.projectId} demo`);
    expect(deviceReplies.codes - before).toBe(1);
    expect(daemonLog).toMatch(/ code slot="keystone" pid=\d+ uid=\d+/); // the plugin's request, in the daemon's log
    const cache = join(dir, "cache", "keystone-tokens.json");
    expect(statSync(cache).mode & 0o777).toBe(0o600);
  });

  it("the token cache makes 100 successive openstack calls use at most 1 code", async () => {
    expect((await hw(["keystone", "logout", "--all"])).code).toBe(0);
    await awayFromStepEnd();
    const before = deviceReplies.codes;
    let failures = 0;
    let next = 0;
    const times: number[] = [];
    const worker = async () => {
      while (next < 100) {
        next++;
        const r = await openstack("hw");
        times.push(r.ms);
        if (r.code !== 0 || r.stdout.trim() !== `${alice.projectId} demo`) failures++;
      }
    };
    const t0 = Date.now();
    await Promise.all([worker(), worker(), worker()]); // three at a time: the cache's lock must still spend one code
    report["plugin: codes for 100 openstack calls (3 at a time)"] = deviceReplies.codes - before;
    report["plugin: 100 calls, 3 at a time (s)"] = (Date.now() - t0) / 1000;
    report["plugin: median openstack call under that load (ms)"] = Math.round(median(times));
    expect(failures).toBe(0);
    expect(deviceReplies.codes - before).toBe(1);
  }, 600000);

  it("the plugin and hwtotp keystone login/logout share the token cache", async () => {
    const out = await hw(["keystone", "logout", "--os-cloud", "hw", "--json"]);
    expect(JSON.parse(out.stdout)).toEqual({ dropped: 1, revoked: 1 }); // the plugin's token, revoked
    let before = deviceReplies.codes;
    const login = await hw(["keystone", "login", "--os-cloud", "hw", "--json"], undefined, { HWTOTP_SOCKET: daemonSocket() });
    expect(login.code).toBe(0);
    expect(JSON.parse(login.stdout).issued).toBe(true);
    expect(deviceReplies.codes - before).toBe(1);
    before = deviceReplies.codes;
    const r = await openstack("hw"); // login's token: Keystone validates it once, no code
    expect(r.code).toBe(0);
    expect(deviceReplies.codes - before).toBe(0);
  });

  it("a user without MFA rules is never asked for a code", async () => {
    const before = deviceReplies.codes;
    const logBefore = daemonLog.length;
    for (let i = 0; i < 2; i++) {
      const r = await openstack("dave", { HWTOTP_TOKEN_CACHE: join(dir, "cache", "dave-none.json") });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`${dave.projectId} demo`);
    }
    const off = await openstack("dave", { HWTOTP_TOKEN_CACHE: "off" }); // no cache at all: still no code
    expect(off.code).toBe(0);
    expect(deviceReplies.codes - before).toBe(0);
    expect(daemonLog.slice(logBefore)).not.toMatch(/ code /);
  });

  it("a wrong code (the token's clock one step ahead) gives a clear openstack error", async () => {
    expect((await hw(["keystone", "logout", "--all"])).code).toBe(0);
    emu.control.setClock(emu.control.now() + 30);
    try {
      const r = await openstack("hw");
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /Keystone refused the code from the token's slot 'keystone' for alice: is the token's clock right and not ahead \(`hwtotp time sync`\).*\(HTTP 401\)/,
      );
      expect(r.stdout).toBe("");
    } finally {
      emu.control.setClock(emu.control.now() - 30);
    }
  });

  it("a locked token gives a clear openstack error naming hwtotp unlock", async () => {
    const d = { HWTOTP_SOCKET: daemonSocket() };
    const pin = "4826-e2e";
    expect((await hw(["pin", "set", "--pin", "-"], pin + "\n", d)).code).toBe(0);
    try {
      expect((await hw(["lock"], undefined, d)).code).toBe(0);
      expect((await hw(["keystone", "logout", "--all"])).code).toBe(0);
      const r = await openstack("hw");
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Keystone wants a TOTP code for alice, and the token gave no code: .*hwtotp unlock.*\[E_LOCKED\]/);
      expect(r.stderr).not.toContain(pin);
    } finally {
      expect((await hw(["unlock", "--pin", "-"], pin + "\n", d)).code).toBe(0);
      expect((await hw(["pin", "clear", "--pin", "-"], pin + "\n", d)).code).toBe(0);
    }
    const ok = await openstack("hw");
    expect(ok.code).toBe(0);
  });

  it("with the daemon down, the plugin falls back to hwtotp code --json", async () => {
    await stopDaemon();
    expect(existsSync(daemonSocket())).toBe(false);
    expect((await hw(["keystone", "logout", "--all"])).code).toBe(0);
    await awayFromStepEnd();
    const before = deviceReplies.codes;
    const r = await openstack("hw");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${alice.projectId} demo`);
    expect(deviceReplies.codes - before).toBe(1);
  });

  it("no passcode in the environment of any openstack process the plugin served", async () => {
    const seen = await envWatch!.stop();
    envWatch = null;
    expect(seen.length).toBeGreaterThan(100);
    const all = (await (
      await fetch(`${ks.url}/credentials?type=totp&user_id=${alice.id}`, { headers: { "X-Auth-Token": await ks.adminToken() } })
    ).json()) as {
      credentials: { blob: string }[];
    };
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(all.credentials[0].blob) });
    const codes = new Set<string>();
    for (let t = SUITE_T0 - 120000; t < Date.now() + 120000; t += 30000) codes.add(totp.generate({ timestamp: t }));
    report["openstack processes whose environment was read"] = seen.length;
    for (const p of seen) {
      expect(p.env.some((v) => v.startsWith("OS_PASSCODE=") || v.startsWith("OS_PASSWORD=") || v.startsWith("OS_TOKEN="))).toBe(false);
      for (const v of p.env)
        for (const c of codes)
          expect(new RegExp(`(^|[^0-9])${c}([^0-9]|$)`).test(v), `a passcode in the environment: ${v.split("=")[0]}`).toBe(false);
    }
  });

  it("no passcode, password or secret on any process's argv or in Keystone's logs", async () => {
    const argv = await watch.stop();
    // Every TOTP seed Keystone holds (alice's and bob's), and every code they gave during the run.
    const all = (await (await fetch(`${ks.url}/credentials?type=totp`, { headers: { "X-Auth-Token": await ks.adminToken() } })).json()) as {
      credentials: { blob: string }[];
    };
    expect(all.credentials).toHaveLength(3); // alice's, bob's, carol's (bob2's was rolled back)
    const secrets = [alice.password, bob.password, carol.password, dave.password, ks.admin.password];
    for (const { blob } of all.credentials) {
      const key = OTPAuth.Secret.fromBase32(blob);
      secrets.push(blob, Buffer.from(key.bytes).toString("hex"));
      const totp = new OTPAuth.TOTP({ secret: key });
      for (let t = SUITE_T0 - 120000; t < Date.now() + 120000; t += 30000) codesSeen.add(totp.generate({ timestamp: t }));
    }
    expect(argv.some((c) => c.includes("openstack") && c.includes("project list"))).toBe(true); // the watch saw the children
    expect(argv.some((c) => c.includes("hwtotp.js") && c.includes("--token-cache"))).toBe(true);
    report["distinct command lines watched"] = argv.length;
    for (const c of argv) {
      for (const s of secrets) expect(c.includes(s), `a secret on argv: ${c.slice(0, 80)}`).toBe(false);
      for (const code of codesSeen)
        expect(new RegExp(`(^|[^0-9A-Za-z])${code}([^0-9A-Za-z]|$)`).test(c), `a passcode on argv: ${c.slice(0, 80)}`).toBe(false);
    }
    const logs = ks.logs();
    expect(logs.length).toBeGreaterThan(0);
    for (const s of secrets) expect(logs.includes(s)).toBe(false);
    for (const code of codesSeen)
      expect(new RegExp(`(^|[^0-9A-Za-z])${code}([^0-9A-Za-z]|$)`).test(logs), "a passcode in Keystone's log").toBe(false);
  });

  it("stops the server by its pid", async () => {
    const pid = ks.pid;
    await ks.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
