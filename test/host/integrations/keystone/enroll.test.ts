import { afterEach, describe, expect, it } from "vitest";
import { KeystoneClient } from "../../../../host/src/integrations/keystone/client.ts";
import {
  EnrollError,
  checkKeystoneSecret,
  enrollKeystone,
  insecureTransport,
  keystoneBase32,
  planEnrollment,
  type EnrollOptions,
} from "../../../../host/src/integrations/keystone/enroll.ts";
import type { SlotDevice } from "../../../../host/src/integrations/device.ts";
import { startEmuSlots, stopEmuSlots } from "../../../harness/emu-slots.ts";
import { fakeKeystone } from "../../../harness/keystone-fake.ts";
import * as OTPAuth from "otpauth";

const ADMIN = { user: { name: "admin" }, password: "adminpw" };

/** enrollKeystone as admin, for alice, into slot "ks" with rules "auto"; `o` overrides or adds to those. */
function enrollAsAdmin(t: { client: KeystoneClient; device: SlotDevice }, o: Partial<EnrollOptions> = {}) {
  return enrollKeystone({ client: t.client, device: t.device, caller: ADMIN, targetUser: "alice", slot: "ks", rules: "auto", ...o });
}

/** The token is the firmware in the emulator through the host's own Session; skewS runs its clock ahead. */
async function setup(o: Parameters<typeof fakeKeystone>[0] = {}, dev: { skewS?: number } = {}) {
  const ks = fakeKeystone(o);
  const admin = ks.addUser("admin", "adminpw", true);
  const alice = ks.addUser("alice", "alicepw");
  const token = await startEmuSlots();
  if (dev.skewS) token.shiftClock(dev.skewS);
  const client = new KeystoneClient({ authUrl: ks.url, fetch: ks.fetch });
  return { ks, admin, alice, device: token.device, token, client };
}

afterEach(() => stopEmuSlots());

describe("Keystone secrets", () => {
  it("are upper-case base32 of at least 128 bits", () => {
    const key = new Uint8Array(20).map((_, i) => i * 13);
    const b32 = keystoneBase32(key);
    expect(b32).toBe(new OTPAuth.Secret({ buffer: key.buffer }).base32);
    expect(b32).toHaveLength(32);
    expect(checkKeystoneSecret(b32)).toBeNull();
    expect(checkKeystoneSecret(b32.toLowerCase())).toMatch(/upper-case/);
    expect(checkKeystoneSecret("JBSWY3DPEHPK3PXP")).toMatch(/128 bits/);
    expect(checkKeystoneSecret("JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP")).toMatch(/upper-case/);
  });
});

describe("Keystone enrolment", () => {
  it("admin enrols a user: slot, credential, rule, and both verifications", async () => {
    const { ks, alice, device, token, client } = await setup();
    const r = await enrollKeystone({
      client,
      device,
      caller: { user: { name: "admin" }, password: "adminpw", project: { name: "demo" } },
      targetUser: "alice",
      targetPassword: "alicepw",
      slot: "keystone",
      credentialProject: "demo",
      rules: "auto",
      verify: "password",
    });
    expect(r.user).toEqual({ id: alice.id, name: "alice" });
    expect(await token.slotNames()).toContain("keystone");
    const cred = ks.creds.get(r.credentialId!)!;
    expect(cred.type).toBe("totp");
    expect(cred.project_id).toBe(ks.projects[0].id);
    expect(checkKeystoneSecret(cred.blob)).toBeNull();
    expect(Buffer.from(OTPAuth.Secret.fromBase32(cred.blob).bytes).toString("hex")).toBe(token.keyOf("keystone"));
    expect(r.mfa.changed).toBe(true);
    expect(alice.options).toMatchObject({ multi_factor_auth_rules: [["password", "totp"]], multi_factor_auth_enabled: true });
    expect(r.verified).toMatchObject({ method: "password", mfaLogin: true, passwordOnly: "refused-mfa" });
    expect(r.warnings).toEqual([]);
  });

  it("admin enrols a user without her password: TOTP-only logins, a token before the rule and a receipt after", async () => {
    const { ks, alice, device, client } = await setup();
    const r = await enrollAsAdmin({ client, device }, { slot: "keystone" });
    expect(r.verified).toEqual({
      method: "totp",
      codeAccepted: true,
      mfaLogin: false,
      totpOnly: "receipt",
      passwordOnly: "not-checked",
      requiredAuthMethods: [["totp", "password"]],
      weakRules: [],
    });
    expect(alice.options).toMatchObject({ multi_factor_auth_rules: [["password", "totp"]], multi_factor_auth_enabled: true });
    expect(r.warnings).toEqual([]);
    expect(JSON.stringify(ks.calls)).not.toContain("alicepw");
    // The token Keystone issued for the code before the rule was set is revoked at once.
    expect([...ks.tokens.values()].filter((t) => t.userId === alice.id)).toEqual([]);
  });

  it("TOTP-only verification fails, and rolls back, when the code is wrong (no receipt) — one step ahead", async () => {
    const { ks, device, token, client, alice } = await setup({}, { skewS: 30 });
    const e = await enrollAsAdmin({ client, device }).catch((x) => x);
    expect(e).toBeInstanceOf(EnrollError);
    expect(e.message).toMatch(/Keystone refused a code from the token for alice after registration .*hwtotp time sync/);
    expect((await token.slotNames()).length + ks.creds.size).toBe(0);
    expect(alice.options).toEqual({});
  });

  it("TOTP-only verification warns when another rule lets the user in without the token", async () => {
    const { device, client, alice } = await setup();
    alice.options = { multi_factor_auth_rules: [["password"]], multi_factor_auth_enabled: true };
    const r = await enrollAsAdmin({ client, device }, { targetUser: alice.id });
    expect(r.verified.totpOnly).toBe("receipt");
    expect(r.verified.weakRules).toEqual([["password"]]);
    expect(r.warnings.join()).toMatch(/ALICE CAN LOG IN WITHOUT THE TOKEN: rule \["password"\]/);
  });

  it("a user enrols themself; without the right to set rules it warns with the admin's command", async () => {
    const { alice, device, client } = await setup();
    const r = await enrollKeystone({ client, device, caller: { user: { name: "alice" }, password: "alicepw" }, slot: "ks", rules: "auto" });
    expect(r.credentialId).not.toBeNull();
    expect(r.mfa.changed).toBe(false);
    expect(r.verified.passwordOnly).toBe("not-checked");
    expect(r.warnings.join()).toContain(`openstack user set --multi-factor-auth-rule password,totp --enable-multi-factor-auth ${alice.id}`);
  });

  it("--dry-run touches neither the token nor Keystone", async () => {
    const { ks, device, token, client } = await setup();
    const r = await enrollAsAdmin({ client, device }, { targetPassword: "alicepw", dryRun: true });
    expect(r.plan.length).toBeGreaterThanOrEqual(5);
    expect((await token.slotNames()).length).toBe(0);
    expect(ks.creds.size).toBe(0);
    expect(ks.calls.some((c) => c.method === "PATCH" || (c.method === "POST" && c.path === "/credentials"))).toBe(false);
  });

  it("planEnrollment (the CLI's --dry-run) takes no password: one unauthenticated GET /v3 and the slot list", async () => {
    const { ks, client } = await setup();
    const needs = [{ what: "password of admin (to log in)", from: "$OS_PASSWORD", present: true }];
    const p = await planEnrollment({
      client,
      caller: "admin",
      targetUser: "alice",
      slot: "ks",
      rules: "skip",
      needs,
      listSlots: async () => ({ slots: [{ name: "other" }], max: 2 }),
    });
    expect(ks.calls).toEqual([{ method: "GET", path: "", body: undefined }]);
    expect(ks.tokenIssues).toBe(0);
    // The fake's URL is plain http:// to a host that is not this machine: the real run would refuse it.
    expect(p.checks.slice(0, 4).map((c) => [c.what, c.ok])).toEqual([
      ["transport", false],
      ["Keystone", true],
      ["token", true],
      ["slot name", true],
    ]);
    expect(p.checks[0].detail).toMatch(/plain http:\/\/ to another host.*without --insecure/);
    expect(p.steps.some((x) => /PATCH/.test(x))).toBe(false); // --rules skip
    expect(p.steps).toContain("leave MFA rules alone (--rules skip)");
    expect(p.needs).toBe(needs);
    const full = await planEnrollment({
      client,
      caller: "admin",
      slot: "ks",
      rules: "auto",
      needs,
      listSlots: async () => ({ slots: [{ name: "a" }, { name: "b" }], max: 2 }),
    });
    expect(full.checks.find((c) => c.what === "slot name")).toMatchObject({ ok: false, detail: expect.stringMatching(/token is full/) });
  });

  it("rolls back the slot when Keystone refuses the credential", async () => {
    const { ks, device, token, client } = await setup({ failOn: "credentials" });
    const e = await enrollAsAdmin({ client, device }, { targetPassword: "alicepw" }).catch((x) => x);
    expect(e).toBeInstanceOf(EnrollError);
    expect(e.leftovers).toEqual([]);
    expect((await token.slotNames()).length).toBe(0);
    expect(ks.creds.size).toBe(0);
  });

  it("rolls back slot and credential when the token's clock runs one step ahead", async () => {
    const { ks, device, token, client, alice } = await setup({}, { skewS: 30 });
    const e = await enrollAsAdmin({ client, device }, { targetPassword: "alicepw" }).catch((x) => x);
    expect(e).toBeInstanceOf(EnrollError);
    expect(e.message).toMatch(/clock/);
    expect((await token.slotNames()).length).toBe(0);
    expect(ks.creds.size).toBe(0);
    expect(alice.options).toEqual({});
  });

  it("rolls back everything when totp is not among Keystone's auth methods", async () => {
    const { ks, device, token, client, alice } = await setup({ totpMethod: false });
    const e = await enrollAsAdmin({ client, device }, { targetPassword: "alicepw" }).catch((x) => x);
    expect(e.message).toMatch(/\[auth\] methods/);
    expect((await token.slotNames()).length + ks.creds.size).toBe(0);
    expect(alice.options).toEqual({});
  });

  it("warns loudly when password alone still works after the rule is set", async () => {
    const { device, client, alice } = await setup();
    alice.options = { multi_factor_auth_rules: [["password"]] };
    const r = await enrollAsAdmin({ client, device }, { targetUser: alice.id, targetPassword: "alicepw", verify: "password" });
    expect(r.verified.passwordOnly).toBe("accepted");
    expect(r.warnings.join()).toMatch(/PASSWORD ALONE STILL LOGS ALICE IN/);
  });

  it('verify "password" refuses to start without the target\'s password (nothing to verify with)', async () => {
    const { device, token, client } = await setup();
    const e = await enrollAsAdmin({ client, device }, { verify: "password" }).catch((x) => x);
    expect(e).toBeInstanceOf(EnrollError);
    expect((await token.slotNames()).length).toBe(0);
  });

  it("with rules required, a caller who may not set them gets a rollback", async () => {
    const { ks, device, token, client } = await setup();
    const e = await enrollKeystone({
      client,
      device,
      caller: { user: { name: "alice" }, password: "alicepw" },
      slot: "ks",
      rules: "require",
    }).catch((x) => x);
    expect(e).toBeInstanceOf(EnrollError);
    expect((await token.slotNames()).length + ks.creds.size).toBe(0);
  });

  it("never puts the seed, a code or a password in a progress sentence", async () => {
    const { ks, device, token, client } = await setup();
    const lines: string[] = [];
    await enrollAsAdmin({ client, device }, { targetPassword: "alicepw", log: (s) => lines.push(s) });
    const blob = [...ks.creds.values()][0].blob;
    const text = lines.join("\n");
    expect(lines.length).toBeGreaterThan(3);
    for (const s of [blob, token.keyOf("ks")!, "adminpw", "alicepw"]) expect(text).not.toContain(s);
    expect(text).not.toMatch(/\b\d{6}\b/);
  });
});

describe("enrolment transport", () => {
  it.each([
    ["https://keystone.example/v3", null],
    ["http://127.0.0.1:5000/v3", null],
    ["http://127.8.9.10:5000/v3", null],
    ["http://localhost:5000", null],
    ["http://[::1]:5000/v3", null],
    ["http://keystone.example:5000/v3", /plain http:\/\/ to another host/],
    ["http://10.0.0.5/v3", /plain http:\/\/ to another host/],
    ["http://127.0.0.1.example.com/v3", /plain http:\/\/ to another host/],
    ["ftp://keystone/v3", /neither https:\/\/ nor http:\/\//],
    ["not a url", /is not a URL/],
  ])("%s", (url, want) => {
    const r = insecureTransport(url);
    if (want === null) expect(r).toBeNull();
    else expect(r).toMatch(want);
  });
});
