// The keystoneauth1 plugin (host/src/integrations/keystone/python) in Debian's /usr/bin/python3 with its
// keystoneauth1, against the in-memory Keystone (keystone-fake.ts) served on 127.0.0.1, a real `hwtotp daemon`
// in front of the firmware in the emulator (emu-device.ts), and the token cache shared with the TypeScript side. Pending when
// that Python has no keystoneauth1 (python3-openstackclient is installed by the e2e suite); the real
// Keystone and the real openstack CLI are in test/e2e/keystone.test.ts.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeBase32 } from "../../../../host/src/secret.ts";
import { cacheKey, getToken, parseCloudEntry, type CloudConfig } from "../../../../host/src/integrations/keystone/index.ts";
import { installPlugin, targetDir, uninstallPlugin, type PythonInfo } from "../../../../host/src/integrations/keystone/plugin-install.ts";
import { BIN, ROOT, ensureHostBuilt } from "../../../harness/cli-harness.ts";
import { startEmuDevice, type EmuDevice } from "../../../harness/emu-device.ts";
import { totp } from "../../../harness/totp.ts";
import { fakeKeystone, serveKeystone } from "../../../harness/keystone-fake.ts";
import { awayFromStepEnd } from "../../../harness/steps.ts";

const PYTHON = "/usr/bin/python3";
const PYDIR = join(ROOT, "host/src/integrations/keystone/python");
const hasKeystoneauth = existsSync(PYTHON) && spawnSync(PYTHON, ["-c", "import keystoneauth1"]).status === 0;

// Loads the plugin as keystoneauth's loader would, gets a token, prints what happened. Options on stdin
// (they hold the password), never on argv.
const RUNNER = `
import json, sys
from keystoneauth1 import session
from hwtotp_keystoneauth.loader import HwtotpLoader
opts = json.load(sys.stdin)
invalidate = opts.pop('_invalidate', False)
try:
    p = HwtotpLoader().load_from_options(**opts)
    s = session.Session(auth=p)
    first = p.get_access(s).auth_token
    if invalidate:
        p.invalidate()
    ref = p.get_access(s)
    print(json.dumps({'token': ref.auth_token, 'first': first, 'user': ref.user_id, 'project': ref.project_id, 'codes': p.codes_used}))
except Exception as e:
    print(json.dumps({'error': type(e).__name__, 'message': str(e)}))
`;

interface PyResult {
  token?: string;
  first?: string;
  user?: string;
  project?: string;
  codes?: number;
  error?: string;
  message?: string;
  stderr: string;
}

describe.skipIf(!hasKeystoneauth)("keystoneauth1 plugin (auth_type hwtotp) in /usr/bin/python3", () => {
  let ks: ReturnType<typeof fakeKeystone>;
  let server: Server;
  let url: string;
  let device: EmuDevice;
  let dir: string;
  let daemon: ChildProcess | null = null;
  let env: NodeJS.ProcessEnv;
  let alice: ReturnType<ReturnType<typeof fakeKeystone>["addUser"]>;
  const key = randomBytes(20);
  const codeRequests = () => device.requests.filter((l) => JSON.parse(l).op === "code").length;
  const socket = () => join(dir, "run", "hwtotp.sock");
  const cacheFile = () => join(dir, "cache", "keystone-tokens.json");

  const opts = (extra: Record<string, unknown> = {}) => ({
    auth_url: url,
    username: "alice",
    user_domain_name: "Default",
    password: "alicepw",
    project_name: "demo",
    project_domain_name: "Default",
    hwtotp_socket: socket(),
    hwtotp_token_cache: cacheFile(),
    ...extra,
  });
  const py = (o: Record<string, unknown>, extraEnv: NodeJS.ProcessEnv = {}): Promise<PyResult> =>
    new Promise((resolve, reject) => {
      const p = spawn(PYTHON, ["-c", RUNNER], {
        env: { ...env, PYTHONPATH: PYDIR, ...extraEnv },
        cwd: dir,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      p.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
      p.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
      p.on("error", reject);
      p.on("close", () => {
        try {
          resolve({ ...JSON.parse(out), stderr: err });
        } catch {
          reject(new Error("runner printed no JSON: " + out + err));
        }
      });
      p.stdin.end(JSON.stringify(o));
    });
  const cloud = (name: string, auth: Record<string, unknown>): CloudConfig =>
    parseCloudEntry(name, "clouds.yaml", { auth_type: "hwtotp", auth: { auth_url: url, ...auth } });
  const startDaemon = async () => {
    let log = "";
    const p = spawn(process.execPath, [BIN, "daemon", "--socket", socket()], {
      env: { ...env, HWTOTP_DEVICE: device.address },
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
    });
    p.stderr!.setEncoding("utf8").on("data", (s: string) => (log += s));
    daemon = p;
    const end = Date.now() + 15000;
    while (!/connected: firmware/.test(log)) {
      if (p.exitCode !== null || Date.now() > end) throw new Error("daemon did not start: " + log);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const stopDaemon = async () => {
    const p = daemon;
    daemon = null;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    process.kill(p.pid!, "SIGTERM");
    await gone;
  };

  beforeAll(async () => {
    await ensureHostBuilt();
    ks = fakeKeystone();
    ks.addUser("admin", "adminpw", true);
    alice = ks.addUser("alice", "alicepw");
    alice.options = { multi_factor_auth_rules: [["password", "totp"]], multi_factor_auth_enabled: true };
    ks.addUser("bob", "bobpw"); // no rule, no credential
    ks.creds.set("c1", { id: "c1", user_id: alice.id, project_id: null, blob: encodeBase32(key), type: "totp" });
    ({ server, url } = await serveKeystone(ks));
    device = await startEmuDevice();
    await device.addSlot("keystone", key);
    dir = mkdtempSync(join(tmpdir(), "hwtotp-ks-plugin-"));
    mkdirSync(join(dir, "run"), { mode: 0o700 });
    env = { ...process.env, PYTHONWARNINGS: "ignore", HWTOTP_DEVICE: "tcp://127.0.0.1:1", XDG_RUNTIME_DIR: dir };
    for (const k of Object.keys(env)) if (k.startsWith("OS_") || k === "HWTOTP_SOCKET" || k === "HWTOTP_TOKEN_CACHE") delete env[k];
    await startDaemon();
  }, 60000);

  afterAll(async () => {
    await stopDaemon();
    await device?.close();
    await new Promise((ok) => server?.close(ok));
  });

  it("an MFA user: password, then an auth receipt, then one code from the daemon; the next process is served by the cache", async () => {
    await awayFromStepEnd();
    const calls = ks.calls.length;
    const codes = codeRequests();
    const r = await py(opts());
    expect(r.error, r.message).toBeUndefined();
    expect(r).toMatchObject({ user: alice.id, project: ks.projects[0].id, codes: 1 });
    expect(codeRequests() - codes).toBe(1);
    const logins = ks.calls.slice(calls).filter((c) => c.method === "POST" && c.path === "/auth/tokens");
    expect(logins.map((c) => (c.body as { auth: { identity: { methods: string[] } } }).auth.identity.methods)).toEqual([
      ["password"],
      ["totp"],
    ]);
    expect(statSync(cacheFile()).mode & 0o777).toBe(0o600);

    const again = await py(opts());
    expect(again).toMatchObject({ token: r.token, codes: 0 });
    expect(ks.calls.length - calls).toBe(2); // no request at all: the cached state holds the token body
    expect(codeRequests() - codes).toBe(1);
  });

  it("shares the cache with the TypeScript side: same key, same file, same entry", async () => {
    const c = cloud("hw", {
      username: "alice",
      user_domain_name: "Default",
      password: "alicepw",
      project_name: "demo",
      project_domain_name: "Default",
    });
    const t = await getToken(c, {
      file: cacheFile(),
      passcode: async () => {
        throw new Error("must come from the cache");
      },
    });
    expect(t.issued).toBe(false);
    const file = JSON.parse(readFileSync(cacheFile(), "utf8"));
    expect(file.v).toBe(1);
    expect(Object.keys(file.tokens)).toContain(cacheKey(c));
    expect(file.tokens[cacheKey(c)]).toMatchObject({ token: t.token.token, userId: alice.id, authUrl: url });
  });

  it("computes the TypeScript cache key for names, ids and trailing slashes", () => {
    const cases: Record<string, unknown>[] = [
      { username: "alice", user_domain_name: "Default", project_name: "demo", project_domain_name: "Default" },
      { user_id: "u123", project_id: "p456" },
      { username: "a", user_domain_id: "d1", project_name: "x", project_domain_id: "d2" },
    ];
    for (const auth of cases) {
      const c = cloud("k", { ...auth, auth_url: url + "/" });
      const args = [
        url + "/",
        auth.user_id,
        auth.username,
        auth.user_domain_id,
        auth.user_domain_name,
        auth.project_id,
        auth.project_name,
        auth.project_domain_id,
        auth.project_domain_name,
      ];
      const r = spawnSync(
        PYTHON,
        ["-c", "import json,sys; from hwtotp_keystoneauth.cache import cache_key; print(cache_key(*json.load(sys.stdin)))"],
        {
          input: JSON.stringify(args.map((a) => a ?? null)),
          env: { ...env, PYTHONPATH: PYDIR },
          encoding: "utf8",
        },
      );
      expect(r.stdout.trim()).toBe(cacheKey(c));
    }
  });

  it("a token from `hwtotp keystone login` (no catalog) is validated once, then served without a code", async () => {
    // alice scoped by project id: another cache entry than the tests above use
    const pid = ks.projects[0].id;
    const c = cloud("hw-id", { username: "alice", user_domain_name: "Default", password: "alicepw", project_id: pid });
    const t = await getToken(c, { file: cacheFile(), passcode: async () => totp(key, Date.now() / 1000) });
    expect(t.issued).toBe(true);
    const calls = ks.calls.length;
    const r = await py(opts({ project_name: undefined, project_domain_name: undefined, project_id: pid }));
    expect(r).toMatchObject({ token: t.token.token, codes: 0 });
    expect(ks.calls.slice(calls).map((x) => `${x.method} ${x.path}`)).toEqual(["GET /auth/tokens"]);
    expect(JSON.parse(readFileSync(cacheFile(), "utf8")).tokens[cacheKey(c)].authState.body.token.user.id).toBe(t.token.userId);
  });

  it("a user without an MFA rule is never asked for a code, with or without the cache", async () => {
    const codes = codeRequests();
    const r = await py(opts({ username: "bob", password: "bobpw", hwtotp_token_cache: "off" }));
    expect(r).toMatchObject({ codes: 0 });
    expect(r.error).toBeUndefined();
    const e = await py(opts({ username: "bob", password: "bobpw", hwtotp_token_cache: undefined }), { HWTOTP_TOKEN_CACHE: "off" });
    expect(e).toMatchObject({ codes: 0 });
    expect(existsSync(join(dir, "off"))).toBe(false); // "off" is no cache, not a file of that name
    expect(codeRequests()).toBe(codes);
  });

  it("invalidate (a 401 on a cached token) drops the entry and logs in again with one code", async () => {
    const r = await py(opts({ _invalidate: true }));
    expect(r.codes).toBe(1);
    expect(r.token).not.toBe(r.first);
    const c = cloud("hw", { username: "alice", user_domain_name: "Default", project_name: "demo", project_domain_name: "Default" });
    expect(JSON.parse(readFileSync(cacheFile(), "utf8")).tokens[cacheKey(c)].token).toBe(r.token);
  });

  it("a wrong code is a clear Unauthorized; token errors carry their code (E_NOSLOT, several slots, a refusal it does not know)", async () => {
    device.shiftClock(30); // the token runs one step ahead: Keystone never accepts the next step
    try {
      const r = await py(opts({ hwtotp_token_cache: "off" }));
      expect(r.error).toBe("Unauthorized");
      expect(r.message).toMatch(
        /^Keystone refused the code from the token's slot 'keystone' for alice: is the token's clock right and not ahead \(`hwtotp time sync`\).*\(HTTP 401\)$/,
      );
    } finally {
      device.shiftClock(-30);
    }
    const noslot = await py(opts({ hwtotp_slot: "nope", hwtotp_token_cache: "off" }));
    expect(noslot).toMatchObject({ error: "AuthorizationFailure" });
    expect(noslot.message).toMatch(/^Keystone wants a TOTP code for alice, and the token gave no code: .*\[E_NOSLOT\]$/);

    await device.addSlot("other", randomBytes(20));
    try {
      const two = await py(opts({ hwtotp_token_cache: "off" }));
      expect(two.message).toMatch(/the token has 2 slots; name one with auth\.hwtotp_slot in clouds\.yaml \(keystone, other\)/);
      expect((await py(opts({ hwtotp_slot: "keystone", hwtotp_token_cache: "off" }))).codes).toBe(1);
    } finally {
      await device.deleteSlot("other");
    }

    device.hook = (op) => (op === "code" ? "E_POLICY" : undefined); // e.g. a policy layer's refusal
    try {
      const refused = await py(opts({ hwtotp_token_cache: "off" }));
      expect(refused.error).toBe("AuthorizationFailure");
      expect(refused.message).toMatch(/the token gave no code: .*\[E_POLICY\]$/);
    } finally {
      device.hook = undefined;
    }
  });

  it("without a daemon it falls back to `hwtotp code --json` (prompts on stderr, the code through a pipe)", async () => {
    await stopDaemon();
    try {
      const codes = codeRequests();
      const r = await py(opts({ hwtotp_token_cache: "off", hwtotp_command: `${process.execPath} ${BIN}` }), {
        HWTOTP_DEVICE: device.address,
      });
      expect(r.error, r.message).toBeUndefined();
      expect(r.codes).toBe(1);
      expect(codeRequests() - codes).toBe(1);
      const none = await py(opts({ hwtotp_token_cache: "off", hwtotp_command: `${process.execPath} ${BIN}` }), {
        HWTOTP_DEVICE: "tcp://127.0.0.1:1",
      });
      expect(none.error).toBe("AuthorizationFailure");
      expect(none.message).toMatch(/the token gave no code: .*\[E_NODEVICE\]$/);
    } finally {
      await startDaemon();
    }
  });

  it("a cache file others can read is not trusted: its tokens are dropped", async () => {
    const f = join(dir, "cache", "loose.json");
    writeFileSync(f, JSON.stringify({ v: 1, tokens: {} }));
    chmodSync(f, 0o644);
    const r = await py(opts({ hwtotp_token_cache: f }));
    expect(r.codes).toBe(1);
    expect(r.stderr).toMatch(/Token cache .*loose\.json is not a private file of yours \(mode 644\)/);
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it("plugin install --user: keystoneauth1 loads auth_type hwtotp from the user's site-packages; uninstall removes it", () => {
    const base = join(dir, "pyuser");
    const e = { ...env, PYTHONUSERBASE: base };
    const r = installPlugin({ scope: "user", python: PYTHON, env: e });
    expect(r.verified).toBe(true);
    expect(r.dir.startsWith(base + "/lib/python3")).toBe(true);
    const installed = JSON.parse(readFileSync(join(r.dir, "hwtotp_keystoneauth", "_installed.json"), "utf8"));
    expect(installed.hwtotp).toEqual([process.execPath, join(ROOT, "host/bin/hwtotp.js")]);
    const record = readFileSync(join(r.dir, "hwtotp_keystoneauth-0.1.0.dist-info", "RECORD"), "utf8");
    expect(record).toMatch(/^hwtotp_keystoneauth\/plugin\.py,sha256=[A-Za-z0-9_-]{43},\d+$/m);
    const load = spawnSync(
      PYTHON,
      ["-c", "from keystoneauth1 import loading; print(sorted(o.dest for o in loading.get_plugin_loader('hwtotp').get_options()))"],
      { env: e, encoding: "utf8" },
    );
    expect(load.stdout).toContain("'hwtotp_slot', 'hwtotp_socket', 'hwtotp_token_cache'");
    const u = uninstallPlugin({ scope: "user", python: PYTHON, env: e });
    expect(u.verified).toBe(true);
    expect(existsSync(join(r.dir, "hwtotp_keystoneauth"))).toBe(false);
  });
});

describe("where plugin install puts the plugin", () => {
  const debian: PythonInfo = {
    python: "/usr/bin/python3",
    version: "3.11.2",
    userSite: "/home/u/.local/lib/python3.11/site-packages",
    userSiteEnabled: true,
    sitePackages: ["/usr/local/lib/python3.11/dist-packages", "/usr/lib/python3/dist-packages", "/usr/lib/python3.11/dist-packages"],
    sysPath: [],
    keystoneauth: "5.0.0",
  };
  it("--user: the interpreter's user site; --system: its /usr/local site-packages, never dpkg's folder", () => {
    expect(targetDir(debian, "user")).toBe("/home/u/.local/lib/python3.11/site-packages");
    expect(targetDir(debian, "system")).toBe("/usr/local/lib/python3.11/dist-packages");
    expect(targetDir({ ...debian, sitePackages: ["/opt/py/lib/python3.12/site-packages"] }, "system")).toBe(
      "/opt/py/lib/python3.12/site-packages",
    );
  });
  it("--user with the user site turned off is refused with a sentence naming --system", () => {
    expect(() => targetDir({ ...debian, userSiteEnabled: false }, "user")).toThrow(/user site-packages turned off .*use --system/);
  });
});
