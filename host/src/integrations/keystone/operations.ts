// The Keystone commands' work, one function each (the CLI in cli/commands/keystone.ts and exec.ts parses
// options, calls one of these and prints): enrolment and its dry run from a cloud, a cached token for a
// cloud (login, exec --token-cache), logout, clouds.yaml entries, the plugin's install. The token is reached
// through a DeviceAccess that the CLI hands in; progress and warnings go to `say` (never a secret).
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { EXIT, HwtotpError, UsageError } from "../../errors.ts";
import { freshCode, runChild } from "../../exec.ts";
import type { DeviceAccess } from "../device.ts";
import type { RollbackReport } from "../rollback.ts";
import { KeystoneAuthError, KeystoneClient, KeystoneError } from "./client.ts";
import { type CloudConfig, defaultCloudsFileForWrite, writeMfaCloud } from "./clouds.ts";
import {
  type DryRunNeed,
  type EnrollPlan,
  type EnrollResult,
  EnrollError,
  enrollKeystone,
  insecureTransport,
  planEnrollment,
} from "./enroll.ts";
import { type AuthOptions, loadCloudOrUsage, passwordSource, readPassword, resolveCaller, resolveCloud } from "./passwords.ts";
import { type InstallResult, PluginInstallError, installPlugin, uninstallPlugin } from "./plugin-install.ts";
import {
  type GetTokenResult,
  MissingPasswordError,
  forgetTokens,
  getToken,
  projectScopeOf,
  takeOsCloudArg,
  tokenEnv,
  userRefOf,
} from "./token-cache.ts";

type Say = (sentence: string) => void;

/** A Keystone failure as the CLI reports it: one sentence, exit EXIT.KEYSTONE (10) unless told otherwise. */
export class KeystoneFailure extends HwtotpError {
  /** An enrolment's rollback report, when one ran. */
  rollback?: RollbackReport;
  constructor(message: string, exitCode: number = EXIT.KEYSTONE, code = "E_KEYSTONE", rollback?: RollbackReport) {
    super(message);
    this.exitCode = exitCode;
    this.code = code;
    if (rollback) this.rollback = rollback;
  }
}

/** Keystone and enrolment errors become one sentence with the Keystone exit code (E_PARTIAL: a rollback left something). */
export async function keystoneErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof EnrollError) throw new KeystoneFailure(err.message, EXIT.KEYSTONE, err.code, err.rollback);
    if (err instanceof KeystoneError) throw new KeystoneFailure(err.message);
    throw err;
  }
}

export interface EnrollFromCloudOptions extends AuthOptions {
  /** Slot name on the token. */
  name: string;
  /** Enrol this user (id or name) instead of the caller. */
  userId?: string;
  /** That user's password (--user-password), for verify "password". */
  userPassword?: string | true;
  credentialProject?: string;
  rules: "auto" | "require" | "skip";
  verify: "totp" | "password";
  /** Allow plain http:// to another host. */
  insecure?: boolean;
  /** Where the token would be reached, as words (for the dry run's inputs). */
  deviceLabel: string;
  /** false: no progress sentences (--json). */
  progress: boolean;
}

/** Whether `userId` names someone other than the cloud's user. */
const otherUser = (o: EnrollFromCloudOptions, c: { userId?: string; username?: string }) =>
  o.userId !== undefined && o.userId !== c.userId && o.userId !== c.username;

/** `keystone enroll`: refuses plain http:// to another host (unless insecure), reads the passwords, enrols in one device session. */
export async function enrollFromCloud(o: EnrollFromCloudOptions, dev: DeviceAccess, say: Say): Promise<EnrollResult> {
  {
    const cloud = resolveCloud(o);
    const plain = insecureTransport(cloud.authUrl);
    if (plain && !o.insecure)
      throw new UsageError(`Refusing to enrol over ${cloud.authUrl}: ${plain} Use https://, or --insecure if you must.`);
    if (plain) say(`WARNING: ${plain} (--insecure)`);
  }
  const { cloud, password } = await resolveCaller(o);
  let targetPassword: string | undefined;
  if (otherUser(o, cloud) && o.verify === "password") {
    targetPassword = await readPassword(o.userPassword, `Keystone password of ${o.userId}`, "HWTOTP_KEYSTONE_USER_PASSWORD");
    if (targetPassword === undefined) {
      throw new UsageError(
        `--verify password needs ${o.userId}'s password: --user-password - (stdin) or @FILE, or $HWTOTP_KEYSTONE_USER_PASSWORD (the default --verify totp needs none).`,
      );
    }
  }
  const client = new KeystoneClient({ authUrl: cloud.authUrl });
  return dev.session((device) =>
    keystoneErrors(() =>
      enrollKeystone({
        client,
        device,
        slot: o.name,
        rules: o.rules,
        caller: { user: userRefOf(cloud), password, project: projectScopeOf(cloud) },
        targetUser: o.userId,
        targetPassword,
        credentialProject: o.credentialProject,
        verify: o.verify,
        log: o.progress ? say : undefined,
      }),
    ),
  );
}

/** Whether an enrolment found MFA not enforced (password alone or a code alone logs in, or a rule needs no totp): exit 11. */
export function notEnforced(r: EnrollResult): boolean {
  return r.verified.passwordOnly === "accepted" || r.verified.totpOnly === "token" || r.verified.weakRules.length > 0;
}

/** `keystone enroll --dry-run`: the plan and the secret-free checks; reads no password, logs in nowhere, writes nothing. */
export async function planFromCloud(o: EnrollFromCloudOptions, dev: DeviceAccess): Promise<EnrollPlan> {
  const cloud = resolveCloud(o);
  const who = cloud.username ?? cloud.userId ?? "?";
  const scope = cloud.projectName ?? cloud.projectId;
  const caller = `${who}${cloud.username && cloud.userDomainName ? ` (domain ${cloud.userDomainName})` : ""}${scope ? ` scoped to project ${scope}` : ", unscoped"}`;
  const needs: DryRunNeed[] = [
    passwordSource(
      o.password,
      "--password",
      [
        ...(cloud.file ? [{ what: `clouds.yaml entry "${cloud.name}" (${cloud.file})`, present: !!cloud.password }] : []),
        { what: "$OS_PASSWORD", present: !!process.env.OS_PASSWORD },
      ],
      `password of ${who} (to log in)`,
    ),
  ];
  const other = otherUser(o, cloud);
  if (other && o.verify === "password") {
    needs.push(
      passwordSource(
        o.userPassword,
        "--user-password",
        [{ what: "$HWTOTP_KEYSTONE_USER_PASSWORD", present: !!process.env.HWTOTP_KEYSTONE_USER_PASSWORD }],
        `password of ${o.userId} (for the verification logins)`,
      ),
    );
  }
  needs.push({ what: "the token (to store the seed and read codes)", from: o.deviceLabel, present: null });
  const plan = await planEnrollment({
    client: new KeystoneClient({ authUrl: cloud.authUrl, timeoutMs: 5000 }),
    caller,
    targetUser: other ? o.userId : undefined,
    slot: o.name,
    credentialProject: o.credentialProject,
    rules: o.rules,
    verify: o.verify,
    listSlots: () => dev.session((s) => s.list()),
    needs,
  });
  const tokenCheck = plan.checks.find((c) => c.what === "token");
  if (tokenCheck?.ok) needs[needs.length - 1].present = true;
  return plan;
}

export interface TokenOptions {
  /** Slot to take the code from (default: the cloud's auth.hwtotp_slot, else the only slot). */
  name?: string;
  /** Token cache file. */
  cache?: string;
}

/** A token for the cloud (default $OS_CLOUD) from the cache, or one login with a fresh code from the token. */
export async function cachedToken(
  cloudName: string | undefined,
  o: TokenOptions,
  dev: DeviceAccess,
  say: Say,
): Promise<{ cloud: CloudConfig; token: GetTokenResult }> {
  const name = cloudName ?? process.env.OS_CLOUD;
  if (!name) throw new UsageError("Which cloud? Give --os-cloud NAME (to hwtotp or to openstack), or set $OS_CLOUD.");
  const cloud = loadCloudOrUsage(name);
  // The code goes straight into one login, and Keystone also accepts the previous step: no reason to wait
  // for a fresh step (and to reveal a code that is then thrown away).
  const minLeft = 0;
  const getIt = () =>
    getToken(cloud, {
      file: o.cache,
      password: process.env.OS_PASSWORD,
      warn: say,
      passcode: async () => {
        const c = await dev.session((s) =>
          freshCode(s, {
            name: o.name ?? cloud.slot,
            minLeft,
            onWait: (left) => say(`Only ${Math.round(left)} s left in this step; waiting for the next code.`),
          }),
        );
        return c.code as string;
      },
    });
  const token = await keystoneErrors(async () => {
    try {
      return await getIt();
    } catch (err) {
      if (err instanceof MissingPasswordError) throw new UsageError(err.message);
      if (err instanceof KeystoneAuthError && !err.receipt) {
        throw new KeystoneError(
          `${err.message} Password and code were refused: is the token's clock right and not ahead (\`hwtotp time sync\`), and is this the slot enrolled for ${cloud.username ?? cloud.userId}?`,
          401,
        );
      }
      throw err;
    }
  });
  return { cloud, token };
}

/**
 * `hwtotp exec --token-cache[=CLOUD] -- CMD…`: runs CMD with a cached Keystone token instead of a passcode.
 * The cloud is the option's value, else `--os-cloud` in CMD's arguments (taken out: with a token the
 * openstack CLI must not load the v3multifactor entry), else $OS_CLOUD. Resolves with CMD's exit code.
 */
export async function execWithTokenCache(
  argv: string[],
  o: TokenOptions & { tokenCache: string | true },
  dev: DeviceAccess,
  say: Say,
): Promise<number> {
  const taken = takeOsCloudArg(argv);
  const cloudName = typeof o.tokenCache === "string" ? o.tokenCache : taken.cloud;
  const { token } = await cachedToken(cloudName, o, dev, say).catch((err) => {
    // `hwtotp exec --token-cache openstack …` (no --) reads "openstack" as the cloud's name.
    if (err instanceof UsageError && typeof o.tokenCache === "string" && /No cloud named/.test(err.message)) {
      throw new UsageError(`${err.message} (--token-cache takes an optional cloud name: put -- before the command.)`);
    }
    throw err;
  });
  if (token.issued) say(`Logged in to Keystone with a code from the token; cached until ${new Date(token.token.expiresAt).toISOString()}.`);
  const env = tokenEnv(token.token, process.env);
  const extra: NodeJS.ProcessEnv = { ...env };
  for (const k of Object.keys(process.env)) if (!(k in env)) extra[k] = undefined; // dropped: OS_PASSWORD, OS_CLOUD…
  const [cmd, ...args] = taken.argv;
  return runChild(cmd, args, extra);
}

/** `keystone logout`: drops one cloud's cached tokens (or all) and revokes those still valid. */
export async function logout(
  o: { osCloud?: string; all?: boolean; cache?: string },
  say: Say,
): Promise<{ dropped: number; revoked: number }> {
  const name = o.osCloud ?? process.env.OS_CLOUD;
  if (!o.all && !name) throw new UsageError("Say which: --os-cloud NAME, or --all.");
  const gone = forgetTokens(o.all ? null : loadCloudOrUsage(name!), { file: o.cache, warn: say });
  let revoked = 0;
  for (const t of gone) {
    if (t.expiresAt <= Date.now()) continue;
    await new KeystoneClient({ authUrl: t.authUrl, timeoutMs: 5000 }).revokeToken(t.token, t.token).then(
      () => revoked++,
      () => undefined,
    );
  }
  return { dropped: gone.length, revoked };
}

export interface CloudEntryOptions {
  file?: string;
  from?: string;
  authUrl?: string;
  username?: string;
  userId?: string;
  userDomain?: string;
  project?: string;
  projectId?: string;
  projectDomain?: string;
  region?: string;
  /** Store a password: - (stdin), @FILE, or true (a prompt). */
  password?: string | true;
  /** auth_type hwtotp (the plugin) instead of v3multifactor. */
  plugin?: boolean;
  slot?: string;
}

/** `keystone cloud NAME`: writes or updates a password+TOTP entry in clouds.yaml (`isNew`: it was not there, nor copied). */
export async function writeCloud(name: string, o: CloudEntryOptions) {
  const file = o.file ?? defaultCloudsFileForWrite();
  const exists = existsSync(file) && parse(readFileSync(file, "utf8"))?.clouds?.[name] !== undefined;
  const password = o.password !== undefined ? await readPassword(o.password, "Keystone password to store in clouds.yaml", null) : undefined;
  const isNew = !exists && o.from === undefined;
  const authType = o.plugin ? "hwtotp" : "v3multifactor";
  try {
    const r = writeMfaCloud(
      file,
      name,
      {
        authUrl: o.authUrl,
        username: o.username,
        userId: o.userId,
        password,
        projectName: o.project,
        projectId: o.projectId,
        userDomainName: o.userDomain ?? (isNew && o.username ? "Default" : undefined),
        projectDomainName: o.projectDomain ?? (isNew && o.project ? "Default" : undefined),
        regionName: o.region,
        authType,
        slot: o.slot,
      },
      o.from,
    );
    return { written: r, authType, isNew, passwordStored: password !== undefined };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** `keystone plugin install|uninstall`; a failure is a KeystoneFailure with exit 1 (E_PLUGIN). */
export function pluginAction(action: "install" | "uninstall", o: { scope: "user" | "system"; python: string }): InstallResult {
  try {
    return action === "install" ? installPlugin(o) : uninstallPlugin(o);
  } catch (err) {
    if (err instanceof PluginInstallError) throw new KeystoneFailure(err.message, EXIT.ERROR, "E_PLUGIN");
    throw err;
  }
}
