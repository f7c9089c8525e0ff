import { chmodSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  forgetTokens,
  getToken,
  refreshMargin,
  takeOsCloudArg,
  tokenCacheFile,
  tokenEnv,
} from "../../../../host/src/integrations/keystone/token-cache.ts";
import { stopEmuSlots } from "../../../harness/emu-slots.ts";
import { mfaLoginScene } from "../../../harness/keystone-fake.ts";

afterEach(stopEmuSlots);

// The token is the firmware in the emulator, its clock frozen: time moves only when a test advances it, and
// Keystone's clock is the token's (mfaLoginScene).
async function setup(lifeS = 3600) {
  const { token, ks, cloud, passcode, now, advance } = await mfaLoginScene({ tokenLifeS: lifeS, regionName: "RegionOne" });
  const device = {
    get codesIssued() {
      return token.requests("code");
    },
  };
  const file = join(mkdtempSync(join(tmpdir(), "hwtotp-tc-")), "sub", "tokens.json");
  return { ks, device, cloud, file, passcode, now, advance };
}

describe("Keystone token cache", () => {
  it("serves 100 calls in a burst with one code, from a 0600 file", async () => {
    const { ks, device, cloud, file, passcode, now, advance } = await setup();
    let issued = 0;
    for (let i = 0; i < 100; i++) {
      const r = await getToken(cloud, { file, passcode, now, fetch: ks.fetch });
      if (r.issued) issued++;
      advance(5);
    }
    expect(issued).toBe(1);
    expect(device.codesIssued).toBe(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, "..")).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, "utf8")).not.toContain("alicepw");
  });

  it("refreshes shortly before expiry, not after", async () => {
    const { ks, device, cloud, file, passcode, now, advance } = await setup(3600);
    const a = await getToken(cloud, { file, passcode, now, fetch: ks.fetch });
    expect(refreshMargin(a.token)).toBe(300000);
    advance(3600 - 301);
    expect((await getToken(cloud, { file, passcode, now, fetch: ks.fetch })).issued).toBe(false);
    advance(2);
    const b = await getToken(cloud, { file, passcode, now, fetch: ks.fetch });
    expect(b.issued).toBe(true);
    expect(b.token.token).not.toBe(a.token.token);
    expect(device.codesIssued).toBe(2);
  });

  it("concurrent callers spend one code", async () => {
    const { ks, device, cloud, file, passcode, now } = await setup();
    const rs = await Promise.all(Array.from({ length: 8 }, () => getToken(cloud, { file, passcode, now, fetch: ks.fetch })));
    expect(new Set(rs.map((r) => r.token.token)).size).toBe(1);
    expect(device.codesIssued).toBe(1);
  });

  it("discards a cache file that others can read", async () => {
    const { ks, cloud, file, passcode, now } = await setup();
    await getToken(cloud, { file, passcode, now, fetch: ks.fetch });
    chmodSync(file, 0o644);
    const warnings: string[] = [];
    const r = await getToken(cloud, { file, passcode, now, fetch: ks.fetch, warn: (s) => warnings.push(s) });
    expect(r.issued).toBe(true);
    expect(warnings[0]).toMatch(/not a private file/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("keeps tokens of different scopes apart, and forgets them", async () => {
    const { ks, cloud, file, passcode, now } = await setup();
    await getToken(cloud, { file, passcode, now, fetch: ks.fetch });
    const unscoped = { ...cloud, projectName: undefined, projectDomainName: undefined };
    expect((await getToken(unscoped, { file, passcode, now, fetch: ks.fetch })).issued).toBe(true);
    expect(forgetTokens(cloud, { file, now })).toHaveLength(1);
    expect((await getToken(cloud, { file, passcode, now, fetch: ks.fetch })).issued).toBe(true);
    expect(forgetTokens(null, { file, now })).toHaveLength(2);
    expect(Object.keys(JSON.parse(readFileSync(file, "utf8")).tokens)).toHaveLength(0);
  });

  it("gives the child a token environment without passwords or a cloud", async () => {
    const { ks, cloud, file, passcode, now } = await setup();
    const { token } = await getToken(cloud, { file, passcode, now, fetch: ks.fetch });
    const env = tokenEnv(token, {
      PATH: "/bin",
      OS_CLOUD: "mfa",
      OS_PASSWORD: "x",
      OS_PASSCODE: "123456",
      OS_PROJECT_NAME: "p",
      OS_USERNAME: "u",
      HOME: "/h",
    });
    expect(env).toEqual({
      PATH: "/bin",
      HOME: "/h",
      OS_AUTH_TYPE: "token",
      OS_TOKEN: token.token,
      OS_AUTH_URL: ks.url,
      OS_IDENTITY_API_VERSION: "3",
      OS_PROJECT_ID: ks.projects[0].id,
      OS_REGION_NAME: "RegionOne",
    });
  });

  it("takes --os-cloud out of the child's argv", () => {
    expect(takeOsCloudArg(["openstack", "--os-cloud", "mfa", "project", "list"])).toEqual({
      argv: ["openstack", "project", "list"],
      cloud: "mfa",
    });
    expect(takeOsCloudArg(["openstack", "--os-cloud=mfa", "server", "list"])).toEqual({
      argv: ["openstack", "server", "list"],
      cloud: "mfa",
    });
    expect(takeOsCloudArg(["sh", "-c", "x", "--", "--os-cloud", "y"])).toEqual({
      argv: ["sh", "-c", "x", "--", "--os-cloud", "y"],
      cloud: undefined,
    });
  });

  it("lives in $XDG_RUNTIME_DIR when there is one", () => {
    expect(tokenCacheFile({ HWTOTP_TOKEN_CACHE: "/x" })).toBe("/x");
    expect(tokenCacheFile({ XDG_RUNTIME_DIR: "/run/user/1" })).toBe("/run/user/1/hwtotp/keystone-tokens.json");
  });
});
