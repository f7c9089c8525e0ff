import { describe, expect, it } from "vitest";
import {
  KeystoneAuthError,
  KeystoneClient,
  KeystoneError,
  buildTokenRequest,
  hasRule,
  identityBase,
} from "../../../../host/src/integrations/keystone/client.ts";
import { fakeKeystone } from "../../../harness/keystone-fake.ts";
import * as OTPAuth from "otpauth";

const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

describe("Keystone client", () => {
  it("normalises auth URLs to the /v3 base", () => {
    expect(identityBase("http://k:5000")).toBe("http://k:5000/v3");
    expect(identityBase("http://k:5000/v3/")).toBe("http://k:5000/v3");
    expect(identityBase("http://k/identity/v3")).toBe("http://k/identity/v3");
  });

  it("puts password and totp in one request, passcode as a 6-character string", () => {
    const b = buildTokenRequest({ user: { name: "alice" }, password: "pw", passcode: "012345", project: { name: "demo" } });
    expect(b).toEqual({
      auth: {
        identity: {
          methods: ["password", "totp"],
          password: { user: { name: "alice", domain: { name: "Default" }, password: "pw" } },
          totp: { user: { name: "alice", domain: { name: "Default" }, passcode: "012345" } },
        },
        scope: { project: { name: "demo", domain: { name: "Default" } } },
      },
    });
    expect(() => buildTokenRequest({ user: { id: "u" }, passcode: "12345678" })).toThrow(RangeError);
    expect(() => buildTokenRequest({ user: { id: "u" } })).toThrow(TypeError);
  });

  it("gets a token with password+totp, and a receipt plus the rule for password alone", async () => {
    const ks = fakeKeystone();
    const alice = ks.addUser("alice", "pw");
    alice.options = { multi_factor_auth_rules: [["password", "totp"]], multi_factor_auth_enabled: true };
    ks.creds.set("c1", { id: "c1", user_id: alice.id, project_id: null, blob: SECRET, type: "totp" });
    const c = new KeystoneClient({ authUrl: ks.url, fetch: ks.fetch });
    const code = new OTPAuth.TOTP({ secret: SECRET }).generate();
    const t = await c.issueMfaToken({ user: { name: "alice" }, password: "pw", passcode: code, project: { name: "demo" } });
    expect(t.methods).toEqual(["password", "totp"]);
    expect(t.project?.name).toBe("demo");
    expect(t.expiresAt - t.issuedAt).toBe(3600000);

    const e = await c.issueToken({ user: { name: "alice" }, password: "pw" }).catch((x) => x);
    expect(e).toBeInstanceOf(KeystoneAuthError);
    expect(e.needsMoreFactors).toBe(true);
    expect(hasRule(e.requiredAuthMethods, ["password", "totp"])).toBe(true);
    expect(e.message).not.toContain("pw");
    // The receipt completes the login with the second factor alone.
    const t2 = await c.issueToken({ user: { id: alice.id }, passcode: code, receipt: e.receipt });
    expect(t2.methods.sort()).toEqual(["password", "totp"]);

    expect((await c.probePasswordOnly({ name: "alice" }, "pw")).outcome).toBe("refused-mfa");
    expect((await c.probePasswordOnly({ name: "alice" }, "wrong")).outcome).toBe("refused");
  });

  it("matches rules in either order", () => {
    expect(hasRule([["totp", "password"]], ["password", "totp"])).toBe(true);
    expect(hasRule([["password"]], ["password", "totp"])).toBe(false);
  });

  it("says the server is unreachable without leaking the request body", async () => {
    const c = new KeystoneClient({ authUrl: "http://127.0.0.1:9/v3", timeoutMs: 2000 });
    const e = await c.issueToken({ user: { name: "a" }, password: "hunter2" }).catch((x) => x);
    expect(e).toBeInstanceOf(KeystoneError);
    expect(e.unreachable).toBe(true);
    expect(e.message).toMatch(/could not be reached/);
    expect(e.message).not.toContain("hunter2");
  });
});
