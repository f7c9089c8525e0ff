// Keystone token cache for `hwtotp exec --token-cache`: one password+TOTP login (one code from the device)
// per token lifetime, kept in a 0600 file until shortly before it expires; the child runs with
// OS_AUTH_TYPE=token, OS_TOKEN, OS_AUTH_URL and the project scope instead of a password and a passcode.

import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { withLockFile, writePrivateFile } from "../../private-file.ts";
import type { CloudConfig } from "./clouds.ts";
import { KeystoneClient, type IssuedToken, type ProjectScope, type UserRef } from "./client.ts";

export interface CachedToken {
  token: string;
  /** Unix ms. */
  expiresAt: number;
  issuedAt: number;
  authUrl: string;
  userId: string;
  projectId?: string;
  projectName?: string;
  projectDomainId?: string;
  regionName?: string;
  interface?: string;
}

interface CacheFile {
  v: 1;
  tokens: { [key: string]: CachedToken };
}

/** $HWTOTP_TOKEN_CACHE, else $XDG_RUNTIME_DIR/hwtotp/keystone-tokens.json, else ~/.cache/hwtotp/keystone-tokens.json. */
export function tokenCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HWTOTP_TOKEN_CACHE) return env.HWTOTP_TOKEN_CACHE;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "hwtotp", "keystone-tokens.json");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "hwtotp", "keystone-tokens.json");
}

/** Which login a cached token stands for (not secret: URL, user, scope). */
export function cacheKey(c: CloudConfig): string {
  const parts = [
    c.authUrl.replace(/\/+$/, ""),
    c.userId ?? "",
    c.username ?? "",
    c.userDomainId ?? "",
    c.userDomainName ?? "",
    c.projectId ?? "",
    c.projectName ?? "",
    c.projectDomainId ?? "",
    c.projectDomainName ?? "",
  ];
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 32);
}

/**
 * How long before expiry a token is replaced: 5 minutes, but at most a quarter of its lifetime and at
 * least 30 s — long enough for the child command that gets it to finish.
 */
export function refreshMargin(t: { issuedAt: number; expiresAt: number }): number {
  const life = t.expiresAt - t.issuedAt;
  return Math.max(30000, Math.min(300000, life / 4));
}

export function isUsable(t: CachedToken, now: number): boolean {
  return Number.isFinite(t.expiresAt) && t.expiresAt - now > refreshMargin(t);
}

export function userRefOf(c: CloudConfig): UserRef {
  if (c.userId) return { id: c.userId };
  if (!c.username) throw new Error(`Cloud "${c.name}" names no user (auth.username or auth.user_id).`);
  return c.userDomainId ? { name: c.username, domainId: c.userDomainId } : { name: c.username, domainName: c.userDomainName ?? "Default" };
}

export function projectScopeOf(c: CloudConfig): ProjectScope | undefined {
  if (c.projectId) return { id: c.projectId };
  if (!c.projectName) return undefined;
  return c.projectDomainId
    ? { name: c.projectName, domainId: c.projectDomainId }
    : { name: c.projectName, domainName: c.projectDomainName ?? "Default" };
}

/** Reads the cache. A file that others can read (or not ours) is not trusted: its tokens are dropped. */
function readCache(file: string, warn: (s: string) => void): CacheFile {
  if (!existsSync(file)) return { v: 1, tokens: {} };
  const st = lstatSync(file);
  if (!st.isFile() || (process.getuid && st.uid !== process.getuid()) || (st.mode & 0o077) !== 0) {
    warn(`Token cache ${file} is not a private file of yours (mode ${(st.mode & 0o777).toString(8)}); its tokens are discarded.`);
    unlinkSync(file);
    return { v: 1, tokens: {} };
  }
  try {
    const o = JSON.parse(readFileSync(file, "utf8")) as CacheFile;
    if (o && o.v === 1 && o.tokens && typeof o.tokens === "object") return o;
  } catch {
    /* a torn or foreign file: start over */
  }
  return { v: 1, tokens: {} };
}

function writeCache(file: string, c: CacheFile, now: number): void {
  for (const [k, t] of Object.entries(c.tokens)) if (!(t.expiresAt > now)) delete c.tokens[k];
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writePrivateFile(file, JSON.stringify(c));
}

/** An exclusive lock file beside the cache, so concurrent `exec --token-cache` runs spend one code, not several. */
async function withLock<T>(file: string, fn: () => Promise<T>, waitMs = 60000): Promise<T> {
  const lock = file + ".lock";
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const timeout = () => new Error(`Token cache is locked by another process (${lock}).`);
  return withLockFile(lock, { waitMs, staleMs: 120000, pollMs: 50, timeout }, fn);
}

export interface GetTokenOptions {
  file?: string;
  /** Password of the cloud's user: the cloud's own, else this. */
  password?: string;
  /** Called only when a new token is needed: returns a 6-digit code from the device. */
  passcode: () => Promise<string>;
  now?: () => number;
  fetch?: typeof fetch;
  warn?: (s: string) => void;
}

export interface GetTokenResult {
  token: CachedToken;
  /** True when this call logged in (and spent a code); false when the cache served it. */
  issued: boolean;
  file: string;
}

function fromIssued(c: CloudConfig, t: IssuedToken): CachedToken {
  const out: CachedToken = { token: t.token, expiresAt: t.expiresAt, issuedAt: t.issuedAt, authUrl: c.authUrl, userId: t.user.id };
  if (t.project) {
    out.projectId = t.project.id;
    out.projectName = t.project.name;
    if (t.project.domainId) out.projectDomainId = t.project.domainId;
  }
  if (c.regionName) out.regionName = c.regionName;
  if (c.interface) out.interface = c.interface;
  return out;
}

/** A login is needed and no password was found (bad input: checked before the device is asked for a code). */
export class MissingPasswordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MissingPasswordError";
  }
}

/** A usable token for the cloud: from the cache, or by one password+TOTP login that refills it. */
export async function getToken(cloud: CloudConfig, opts: GetTokenOptions): Promise<GetTokenResult> {
  const file = opts.file ?? tokenCacheFile();
  const now = opts.now ?? Date.now;
  const warn = opts.warn ?? (() => undefined);
  const key = cacheKey(cloud);
  const cached = readCache(file, warn).tokens[key];
  if (cached && isUsable(cached, now())) return { token: cached, issued: false, file };
  return withLock(file, async () => {
    const cache = readCache(file, warn); // another process may have refilled it while we waited
    const again = cache.tokens[key];
    if (again && isUsable(again, now())) return { token: again, issued: false, file };
    const password = cloud.password ?? opts.password;
    if (!password)
      throw new MissingPasswordError(
        `Cloud "${cloud.name}" has no password: put it in auth.password of ${cloud.file} (or secure.yaml), or in $OS_PASSWORD.`,
      );
    const client = new KeystoneClient({ authUrl: cloud.authUrl, fetch: opts.fetch });
    const passcode = await opts.passcode();
    const issued = await client.issueMfaToken({ user: userRefOf(cloud), password, passcode, project: projectScopeOf(cloud) });
    const t = fromIssued(cloud, issued);
    cache.tokens[key] = t;
    writeCache(file, cache, now());
    return { token: t, issued: true, file };
  });
}

/** Drops the cached token(s): one cloud's, or all. Returns the tokens removed (so the caller may revoke them). */
export function forgetTokens(
  cloud: CloudConfig | null,
  opts: { file?: string; warn?: (s: string) => void; now?: () => number } = {},
): CachedToken[] {
  const file = opts.file ?? tokenCacheFile();
  const cache = readCache(file, opts.warn ?? (() => undefined));
  const keys = cloud ? [cacheKey(cloud)] : Object.keys(cache.tokens);
  const gone = keys.map((k) => cache.tokens[k]).filter((t): t is CachedToken => !!t);
  for (const k of keys) delete cache.tokens[k];
  if (existsSync(file)) writeCache(file, cache, (opts.now ?? Date.now)());
  return gone;
}

// Variables that would make the openstack CLI ignore the token or try another login.
const DROP =
  /^OS_(CLOUD|PASSWORD|PASSCODE|USERNAME|USER_ID|USER_DOMAIN_(NAME|ID)|DOMAIN_(NAME|ID)|PROJECT_(NAME|ID|DOMAIN_(NAME|ID))|TENANT_(NAME|ID)|AUTH_METHODS|AUTH_TYPE|TOKEN|SYSTEM_SCOPE|APPLICATION_CREDENTIAL_\w+)$/;

/** The child's environment: `base` without password-type OS_* variables, plus the token and its scope. */
export function tokenEnv(t: CachedToken, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!DROP.test(k)) env[k] = v;
  env.OS_AUTH_TYPE = "token";
  env.OS_TOKEN = t.token;
  env.OS_AUTH_URL = t.authUrl;
  env.OS_IDENTITY_API_VERSION = "3";
  if (t.projectId) env.OS_PROJECT_ID = t.projectId;
  if (t.regionName) env.OS_REGION_NAME = t.regionName;
  if (t.interface) env.OS_INTERFACE = t.interface;
  return env;
}

/**
 * Takes `--os-cloud NAME` / `--os-cloud=NAME` out of a child's argv: with a token in the environment the
 * openstack CLI must not load the cloud's v3multifactor entry again (it fails on auth_methods).
 */
export function takeOsCloudArg(argv: string[]): { argv: string[]; cloud?: string } {
  const out: string[] = [];
  let cloud: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (a === "--os-cloud" && i + 1 < argv.length) {
      cloud = argv[++i];
      continue;
    }
    if (a.startsWith("--os-cloud=")) {
      cloud = a.slice("--os-cloud=".length);
      continue;
    }
    out.push(a);
  }
  return { argv: out, cloud };
}
