import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  cloudsFileCandidates,
  findCloudsFile,
  loadCloud,
  upsertMfaCloud,
  writeMfaCloud,
} from "../../../../host/src/integrations/keystone/clouds.ts";

const SRC = `# my clouds — keep this comment
clouds:
  # production, do not touch
  prod:
    auth:
      auth_url: https://prod.example/v3 # the real one
      username: bob
      password: "s3cret: with colon"
    region_name: RegionOne
  dev:
    auth_type: password
    auth:
      auth_url: http://dev.example/v3
      username: alice
      passcode: "123456"
    interface: public # keep me
`;

describe("clouds.yaml editing", () => {
  it("turns an existing entry into v3multifactor and keeps its other keys", () => {
    const out = upsertMfaCloud(SRC, "dev", { password: "pw", projectName: "demo" });
    const o = parse(out);
    expect(o.clouds.dev.auth_type).toBe("v3multifactor");
    expect(o.clouds.dev.auth.auth_methods).toEqual(["v3password", "v3totp"]);
    expect(o.clouds.dev.auth).toMatchObject({ auth_url: "http://dev.example/v3", username: "alice", password: "pw", project_name: "demo" });
    expect(o.clouds.dev.interface).toBe("public");
    expect(o.clouds.dev.identity_api_version).toBe(3);
  });

  it("drops a stored passcode (it would be stale; the CLI takes OS_PASSCODE)", () => {
    expect(parse(upsertMfaCloud(SRC, "dev", {})).clouds.dev.auth.passcode).toBeUndefined();
  });

  it("leaves every byte outside the entry as it was: other entries, comments, spacing", () => {
    const out = upsertMfaCloud(SRC, "dev", { password: "pw" });
    expect(parse(out).clouds.prod).toEqual(parse(SRC).clouds.prod);
    expect(out.startsWith(SRC.slice(0, SRC.indexOf("  dev:")))).toBe(true);
    expect(out).toContain("interface: public # keep me");
    const added = upsertMfaCloud(SRC, "new", { authUrl: "http://k/v3", username: "u" });
    expect(added.startsWith(SRC)).toBe(true);
  });

  it("keeps a 4-space file 4-space, and comments beside keys where they were", () => {
    const src =
      "clouds:\n    admin:   # the admin\n        auth:\n            auth_url: http://x   # url\n            username: " +
      "admin\n# trailing\nother: 1\n";
    const out = upsertMfaCloud(src, "mfa", { authUrl: "http://k/v3", username: "u" });
    expect(out.startsWith(src.slice(0, src.indexOf("# trailing")))).toBe(true);
    expect(out.endsWith("# trailing\nother: 1\n")).toBe(true);
    expect(out).toContain("\n    mfa:\n        auth_type: v3multifactor\n");
    expect(parse(out).clouds.mfa.auth.auth_methods).toEqual(["v3password", "v3totp"]);
    expect(parse(out).other).toBe(1);
    const again = upsertMfaCloud(out, "admin", { password: "p" });
    expect(again.slice(again.indexOf("    mfa:"))).toBe(out.slice(out.indexOf("    mfa:")));
  });

  it("adds a new entry after the others", () => {
    const out = upsertMfaCloud(SRC, "mfa", { authUrl: "http://k/v3", username: "carol", userDomainName: "Default" });
    const o = parse(out);
    expect(Object.keys(o.clouds)).toEqual(["prod", "dev", "mfa"]);
    expect(o.clouds.mfa).toEqual({
      auth_type: "v3multifactor",
      auth: { auth_methods: ["v3password", "v3totp"], auth_url: "http://k/v3", username: "carol", user_domain_name: "Default" },
      identity_api_version: 3,
    });
  });

  it("writes the plugin's entry (auth_type hwtotp, hwtotp_slot, no auth_methods), and turns it back into v3multifactor", () => {
    const out = upsertMfaCloud(SRC, "mfa", {
      authUrl: "http://k/v3",
      username: "carol",
      userDomainName: "Default",
      authType: "hwtotp",
      slot: "work",
    });
    const o = parse(out);
    expect(o.clouds.mfa).toEqual({
      auth_type: "hwtotp",
      auth: { auth_url: "http://k/v3", username: "carol", user_domain_name: "Default", hwtotp_slot: "work" },
      identity_api_version: 3,
    });
    expect(out.startsWith(SRC.trimEnd().split("\n").slice(0, 3).join("\n"))).toBe(true);
    const back = parse(upsertMfaCloud(out, "mfa", {}));
    expect(back.clouds.mfa.auth_type).toBe("v3multifactor");
    expect(back.clouds.mfa.auth.auth_methods).toEqual(["v3password", "v3totp"]);
    expect(back.clouds.mfa.auth.hwtotp_slot).toBeUndefined();
    const again = parse(upsertMfaCloud(upsertMfaCloud(SRC, "dev", { authType: "v3multifactor" }), "dev", { authType: "hwtotp" }));
    expect(again.clouds.dev.auth.auth_methods).toBeUndefined();
    expect(again.clouds.dev.auth_type).toBe("hwtotp");
  });

  it("creates a file from nothing, and copies another cloud with --from", () => {
    expect(parse(upsertMfaCloud(null, "x", { authUrl: "http://k/v3", username: "u" })).clouds.x.auth_type).toBe("v3multifactor");
    const o = parse(upsertMfaCloud(SRC, "prod-mfa", {}, "prod"));
    expect(o.clouds["prod-mfa"].auth).toMatchObject({
      auth_url: "https://prod.example/v3",
      username: "bob",
      password: "s3cret: with colon",
    });
    expect(o.clouds["prod-mfa"].region_name).toBe("RegionOne");
    expect(o.clouds.prod.auth_type).toBeUndefined();
  });

  it("refuses an entry without a user, and a file that is not a clouds mapping", () => {
    expect(() => upsertMfaCloud(null, "x", { authUrl: "http://k/v3" })).toThrow(/username/);
    expect(() => upsertMfaCloud("- a\n- b\n", "x", { authUrl: "u", username: "u" })).toThrow(/mapping/);
    expect(() => upsertMfaCloud("clouds: [1]\n", "x", { authUrl: "u", username: "u" })).toThrow(/mapping/);
  });

  it("writes 0600, tightens a world-readable file, and reads the cloud back merged with secure.yaml", () => {
    const dir = mkdtempSync(join(tmpdir(), "hwtotp-clouds-"));
    const file = join(dir, "clouds.yaml");
    writeFileSync(file, SRC, { mode: 0o644 });
    chmodSync(file, 0o644);
    const r = writeMfaCloud(file, "mfa", { authUrl: "http://k:5000/v3", username: "carol", projectName: "demo" });
    expect(r).toEqual({ file, created: false, tightened: true });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(join(dir, "secure.yaml"), "clouds:\n  mfa:\n    auth:\n      password: from-secure\n");
    const c = loadCloud("mfa", { file, env: {} });
    expect(c).toMatchObject({
      authType: "v3multifactor",
      authMethods: ["v3password", "v3totp"],
      username: "carol",
      password: "from-secure",
      projectName: "demo",
    });
    expect(readFileSync(file, "utf8")).toContain("# keep me");
    const fresh = join(dir, "sub", "clouds.yaml");
    expect(writeMfaCloud(fresh, "a", { authUrl: "http://k/v3", username: "u" }).created).toBe(true);
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
  });

  it("finds clouds.yaml where openstacksdk looks, OS_CLIENT_CONFIG_FILE first", () => {
    expect(cloudsFileCandidates({ OS_CLIENT_CONFIG_FILE: "/x/c.yaml" })).toEqual(["/x/c.yaml"]);
    expect(cloudsFileCandidates({}, "/cwd", "/home/u")).toEqual([
      "/cwd/clouds.yaml",
      "/cwd/clouds.yml",
      "/home/u/.config/openstack/clouds.yaml",
      "/home/u/.config/openstack/clouds.yml",
      "/etc/openstack/clouds.yaml",
      "/etc/openstack/clouds.yml",
    ]);
    const dir = mkdtempSync(join(tmpdir(), "hwtotp-clouds-"));
    writeFileSync(join(dir, "clouds.yml"), SRC);
    expect(findCloudsFile({}, dir, "/nonexistent")).toBe(join(dir, "clouds.yml"));
    expect(() => loadCloud("nope", { file: join(dir, "clouds.yml"), env: {} })).toThrow(/No cloud named "nope"/);
  });
});
