// The hwtotp binary's Keystone commands as subprocesses: the in-memory Keystone (keystone-fake.ts) served
// over HTTP on 127.0.0.1 and the firmware in the emulator over TCP (emu-device.ts). Fast; the real server is in test/e2e.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureHostBuilt, privateEnv, runCli } from "../../../harness/cli-harness.ts";
import { startEmuDevice, type EmuDevice } from "../../../harness/emu-device.ts";
import { fakeKeystone, serveKeystone } from "../../../harness/keystone-fake.ts";

let server: Server;
let device: EmuDevice;
let ks: ReturnType<typeof fakeKeystone>;
let url: string;
let dir: string;
let env: NodeJS.ProcessEnv;
const cli = (args: string[], input?: string, extra: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...env, ...extra }, input });
const codeRequests = () => device.requests.filter((l) => JSON.parse(l).op === "code").length;

beforeAll(async () => {
  await ensureHostBuilt();
  ks = fakeKeystone();
  ks.addUser("admin", "adminpw", true);
  ks.addUser("alice", "alicepw");
  ks.addUser("carol", "carolpw");
  ({ server, url } = await serveKeystone(ks));
  device = await startEmuDevice();
  dir = mkdtempSync(join(tmpdir(), "hwtotp-ks-cli-"));
  writeFileSync(
    join(dir, "clouds.yaml"),
    `# keep me\nclouds:\n  admin:\n    auth:\n      auth_url: ${url}\n      username: admin\n      password: adminpw\n      project_name: demo\n  bob:\n    auth:\n      auth_url: ${url}\n      username: bob\n      project_name: demo\n      user_domain_name: Default\n`,
    { mode: 0o600 },
  );
  env = privateEnv({
    HWTOTP_DEVICE: device.address,
    OS_CLIENT_CONFIG_FILE: join(dir, "clouds.yaml"),
    HWTOTP_TOKEN_CACHE: join(dir, "tokens.json"),
  });
  for (const k of Object.keys(env)) if (k.startsWith("OS_") && k !== "OS_CLIENT_CONFIG_FILE") delete env[k];
});

afterAll(async () => {
  await device?.close();
  await new Promise((ok) => server?.close(ok));
});

describe("hwtotp keystone (CLI, in-memory Keystone, stand-in token)", () => {
  it("enroll --dry-run says what it would do and changes nothing", async () => {
    const r = await cli(["keystone", "enroll", "--os-cloud", "admin", "--user-id", "alice", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\nWould:\n {2}1\. log in to Keystone as admin .*\n {2}2\. generate a 20-byte seed/);
    expect(await device.slotCount()).toBe(0);
    expect(ks.creds.size).toBe(0);
  });

  it("enroll --dry-run needs no password: plan, rollback policy, secret-free checks, and the inputs still missing", async () => {
    const calls = ks.calls.length;
    const requests = device.requests.length;
    // bob has no password anywhere (not in clouds.yaml, no $OS_PASSWORD, no terminal): the real run exits 2.
    const real = await cli(["keystone", "enroll", "--os-cloud", "bob"]);
    expect(real.code).toBe(2);
    expect(real.stderr).toMatch(/No password for bob/);
    const r = await cli(["keystone", "enroll", "--os-cloud", "bob", "--user-id", "alice", "--name", "ks1", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^Dry run: nothing was written/);
    expect(out).toMatch(/\n {2}1\. log in to Keystone as bob \(domain Default\) scoped to project demo/);
    expect(out).toMatch(/generate a 20-byte seed/);
    expect(out).toMatch(/store it in the token as slot "ks1"/);
    expect(out).toMatch(/POST \/v3\/credentials \{type: totp, user_id: \{id of alice\}/);
    expect(out).toMatch(/PATCH \/v3\/users\/\{id of alice\} options/);
    // Without --user-password the check is TOTP-only: alice's password is not needed, nor listed.
    expect(out).toMatch(/verify without alice's password: a TOTP-only login/);
    expect(out).toMatch(/a fresh code alone must get an auth receipt that still asks for the password/);
    expect(out).toMatch(
      /On failure:\n.*\n {2}- any failure after that undoes, newest first: the MFA options .*the credential .*the token's slot/,
    );
    expect(out).toContain(`[ok] Keystone: ${url} answers GET /v3: v3.14 (stable)`);
    expect(out).toContain(`[ok] token: answers; 0 of`);
    expect(out).toContain(`[ok] slot name: "ks1" is free on the token`);
    expect(out).toMatch(
      /password of bob \(to log in\): from nowhere: nothing in clouds.yaml entry "bob" .*, \$OS_PASSWORD, and no terminal .* — MISSING/,
    );
    expect(out).not.toMatch(/password of alice/);
    // Read-only and secret-free: one unauthenticated GET /v3, one `list` on the token, nothing else.
    expect(ks.calls.slice(calls)).toEqual([{ method: "GET", path: "", body: undefined }]);
    expect(device.requests.slice(requests).map((l) => JSON.parse(l).op)).toEqual(["list"]);
    expect(await device.slotCount()).toBe(0);
    expect(ks.creds.size).toBe(0);

    // Where a password would come from is named, not read: $OS_PASSWORD, --user-password @FILE, stdin.
    writeFileSync(join(dir, "alice.pw"), "alicepw\n", { mode: 0o600 });
    const j = await cli(
      [
        "keystone",
        "enroll",
        "--os-cloud",
        "bob",
        "--user-id",
        "alice",
        "--user-password",
        "@" + join(dir, "alice.pw"),
        "--dry-run",
        "--json",
      ],
      undefined,
      { OS_PASSWORD: "bobpw" },
    );
    expect(j.code, j.stderr).toBe(0);
    const plan = JSON.parse(j.stdout);
    expect(plan.steps.join("\n")).toMatch(/password alone is refused/); // --user-password: the password check
    expect(plan.needs.slice(0, 2)).toEqual([
      { what: "password of bob (to log in)", from: "$OS_PASSWORD", present: true },
      {
        what: "password of alice (for the verification logins)",
        from: `file ${join(dir, "alice.pw")} (--user-password @${join(dir, "alice.pw")})`,
        present: true,
      },
    ]);
    expect(j.stdout + j.stderr).not.toContain("bobpw");
    expect(j.stdout + j.stderr).not.toContain("alicepw");
    const s = await cli(["keystone", "enroll", "--os-cloud", "bob", "--password", "-", "--dry-run", "--json"], "bobpw\n");
    expect(JSON.parse(s.stdout).needs[0]).toEqual({ what: "password of bob (to log in)", from: "stdin (--password -)", present: null });
    expect(JSON.parse(s.stdout).needs).toHaveLength(2); // bob enrols himself: no second password
    expect(ks.calls.slice(calls).every((c) => c.method === "GET" && c.path === "")).toBe(true);
  });

  it("enroll --dry-run reports a taken slot name and an auth URL that does not answer, still without a password", async () => {
    await device.addSlot("taken", Buffer.alloc(20, 1));
    try {
      const r = await cli(["keystone", "enroll", "--auth-url", url, "--username", "bob", "--name", "taken", "--dry-run", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const plan = JSON.parse(r.stdout);
      expect(plan.checks.find((c: { what: string }) => c.what === "slot name")).toMatchObject({ ok: false });
      expect(plan.checks.find((c: { what: string }) => c.what === "slot name").detail).toMatch(/exists on the token/);
    } finally {
      await device.deleteSlot("taken");
    }
    const dead = await new Promise<Server>((ok) => {
      const s = createServer((_q, res) => res.writeHead(404).end("no"));
      s.listen(0, "127.0.0.1", () => ok(s));
    });
    try {
      const port = (dead.address() as { port: number }).port;
      const r = await cli(["keystone", "enroll", "--auth-url", `http://127.0.0.1:${port}`, "--username", "bob", "--dry-run"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(
        `[PROBLEM] Keystone: http://127.0.0.1:${port}/v3 answered GET with HTTP 404 and no version document: not a Keystone v3 endpoint.`,
      );
    } finally {
      await new Promise((ok) => dead.close(ok));
    }
  });

  it("enroll --verify password without the enrolled user's password is bad input (exit 2), before the token is touched", async () => {
    const r = await cli(["keystone", "enroll", "--os-cloud", "admin", "--user-id", "alice", "--verify", "password"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--verify password needs alice's password/);
    expect(await device.slotCount()).toBe(0);
    const bad = await cli(["keystone", "enroll", "--os-cloud", "admin", "--user-id", "alice", "--verify", "sms"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--verify must be totp or password/);
  });

  it("enroll refuses plain http:// to another host without --insecure (exit 2), before any password or the token", async () => {
    const calls = ks.calls.length;
    const requests = device.requests.length;
    const r = await cli(
      ["keystone", "enroll", "--auth-url", "http://keystone.example:5000/v3", "--username", "admin", "--password", "-"],
      "adminpw\n",
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /Refusing to enrol over http:\/\/keystone\.example:5000\/v3: http:\/\/keystone\.example:5000 is plain http:\/\/ to another host.*--insecure/,
    );
    expect(ks.calls.length).toBe(calls);
    expect(device.requests.length).toBe(requests);
  });

  it("enroll: admin enrols alice, the JSON says what was verified, nothing secret is printed", async () => {
    const r = await cli(["keystone", "enroll", "--os-cloud", "admin", "--user-id", "alice", "--user-password", "-", "--json"], "alicepw\n");
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.verified).toMatchObject({ method: "password", mfaLogin: true, passwordOnly: "refused-mfa" });
    expect(await device.hasSlot("keystone")).toBe(true);
    const blob = [...ks.creds.values()][0].blob;
    for (const s of [blob, "alicepw", "adminpw", device.keyOf("keystone").toString("hex")]) expect(r.stdout + r.stderr).not.toContain(s);
  });

  it("cloud writes a v3multifactor entry (password from stdin) and keeps the rest", async () => {
    const r = await cli(
      ["keystone", "cloud", "alice", "--auth-url", url, "--username", "alice", "--project", "demo", "--password", "-"],
      "alicepw\n",
    );
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(join(dir, "clouds.yaml"), "utf8");
    expect(text.startsWith(`# keep me\nclouds:\n  admin:\n`)).toBe(true);
    expect(text).toContain("  alice:\n    auth_type: v3multifactor\n");
    expect(statSync(join(dir, "clouds.yaml")).mode & 0o777).toBe(0o600);
  });

  it("exec --token-cache: the child gets a token and no password; the second run costs no code", async () => {
    const before = codeRequests();
    const child = ["sh", "-c", 'echo "$OS_AUTH_TYPE $OS_PROJECT_ID ${OS_PASSWORD:-none} ${OS_PASSCODE:-none} ${OS_CLOUD:-none} $#"'];
    const a = await cli(["exec", "--token-cache", "--", ...child, "--os-cloud", "alice"], undefined, { OS_PASSWORD: "stale" });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout.trim()).toBe(`token ${ks.projects[0].id} none none none 0`); // --os-cloud NAME taken out of the argv
    expect(a.stderr).toMatch(/Logged in to Keystone/);
    const b = await cli(["exec", "--token-cache=alice", "--", "sh", "-c", 'test -n "$OS_TOKEN"']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toBe("");
    expect(codeRequests() - before).toBe(1);
    expect(statSync(join(dir, "tokens.json")).mode & 0o777).toBe(0o600);
  });

  it("login reports the cached token; logout drops and revokes it", async () => {
    const l = await cli(["keystone", "login", "--os-cloud", "alice", "--json"]);
    expect(l.code, l.stderr).toBe(0);
    expect(JSON.parse(l.stdout)).toMatchObject({ cloud: "alice", issued: false, projectId: ks.projects[0].id });
    const o = await cli(["keystone", "logout", "--all", "--json"]);
    expect(JSON.parse(o.stdout)).toEqual({ dropped: 1, revoked: 1 });
  });

  it("login and exec --token-cache without a password are bad input (exit 2) before the token is asked; logout needs none", async () => {
    const before = codeRequests();
    for (const args of [
      ["keystone", "login", "--os-cloud", "bob"],
      ["exec", "--token-cache=bob", "--", "true"],
    ]) {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/Cloud "bob" has no password: put it in auth\.password of .*clouds\.yaml .*or in \$OS_PASSWORD\./);
    }
    expect(codeRequests()).toBe(before);
    const o = await cli(["keystone", "logout", "--os-cloud", "bob", "--json"]);
    expect(o.code, o.stderr).toBe(0);
    expect(JSON.parse(o.stdout)).toEqual({ dropped: 0, revoked: 0 });
  });

  it("a token one step ahead: the login is refused with exit 10 and a hint about the clock", async () => {
    device.shiftClock(30);
    try {
      const r = await cli(["exec", "--token-cache=alice", "--", "true"]);
      expect(r.code).toBe(10);
      expect(r.stderr).toMatch(/clock/);
    } finally {
      device.shiftClock(-30);
    }
  });

  it("enroll: the admin enrols carol without her password, verified by TOTP-only logins (a receipt once the rule is on)", async () => {
    const before = ks.calls.length;
    const r = await cli(["keystone", "enroll", "--os-cloud", "admin", "--user-id", "carol", "--name", "carol", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.verified).toMatchObject({
      method: "totp",
      codeAccepted: true,
      mfaLogin: false,
      totpOnly: "receipt",
      passwordOnly: "not-checked",
    });
    expect(o.verified.requiredAuthMethods.map((m: string[]) => [...m].sort())).toEqual([["password", "totp"]]);
    // Every login for carol was TOTP-only: no password method for her in any request.
    const carolLogins = ks.calls
      .slice(before)
      .filter((c) => c.path === "/auth/tokens" && c.method === "POST" && JSON.stringify(c.body).includes('"totp"'));
    expect(carolLogins.length).toBe(2);
    for (const c of carolLogins) expect((c.body as { auth: { identity: { methods: string[] } } }).auth.identity.methods).toEqual(["totp"]);
    expect(r.stdout + r.stderr).not.toContain("carolpw");
  });
});
