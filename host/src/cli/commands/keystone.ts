// hwtotp keystone enroll | cloud | login | logout | plugin install|uninstall, and `hwtotp exec --token-cache`
// — the OpenStack Keystone integration's CLI. It parses options and prints; the work is in host/src/integrations/keystone/.
// Passwords come from clouds.yaml, $OS_PASSWORD, stdin (-), a file (@FILE) or a prompt — never from argv.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, say, withSession } from "../context.ts";
import { EXIT, HwtotpError, UsageError } from "../../errors.ts";
import { checkName } from "../../../../protocol/index.ts";
import { accessSync, constants } from "node:fs";

/** Exit codes of the Keystone commands: the common table's (errors.ts EXIT). */
export const KEYSTONE_EXIT = { REFUSED: EXIT.KEYSTONE, NOT_ENFORCED: EXIT.NOT_ENFORCED } as const;

export class KeystoneCliError extends HwtotpError {
  constructor(message: string, exitCode: number = KEYSTONE_EXIT.REFUSED, code = "E_KEYSTONE") {
    super(message);
    this.exitCode = exitCode;
    this.code = code;
  }
}

interface AuthOptions {
  osCloud?: string;
  authUrl?: string;
  username?: string;
  userDomain: string;
  project?: string;
  projectDomain: string;
  password?: string | true;
}

function addAuthOptions(cmd: Command): Command {
  return cmd
    .option("--os-cloud <name>", "log in as this clouds.yaml entry (default: $OS_CLOUD)")
    .option("--auth-url <url>", "Keystone URL, e.g. http://keystone:5000/v3 (instead of --os-cloud)")
    .option("--username <name>", "user to log in as (with --auth-url)")
    .option("--user-domain <name>", "domain of --username", "Default")
    .option("--project <name>", "project to scope to (with --auth-url)")
    .option("--project-domain <name>", "domain of --project", "Default")
    .option("--password [spec]", "password: - (stdin), @FILE, or a prompt when no value (default: clouds.yaml, else $OS_PASSWORD, else a prompt)");
}

async function readPassword(spec: string | true | undefined, what: string, envVar: string | null): Promise<string | undefined> {
  const { readSecret } = await import("../../secret-input.ts");
  if (spec !== undefined) return (await readSecret(spec, { what })).value;
  if (envVar && process.env[envVar]) return process.env[envVar];
  if (process.stdin.isTTY) return (await readSecret(true, { what })).value;
  return undefined;
}

/** Who logs in: a clouds.yaml entry, or --auth-url/--username/--project. Reads no password. */
async function resolveCloud(o: AuthOptions) {
  const ks = await import("../../integrations/keystone/index.ts");
  const cloudName = o.osCloud ?? (o.authUrl ? undefined : process.env.OS_CLOUD);
  let cloud: import("../../integrations/keystone/clouds.ts").CloudConfig;
  if (cloudName) {
    cloud = loadCloudOrUsage(ks, cloudName);
  } else {
    if (!o.authUrl || !o.username) throw new UsageError("Say where and who: --os-cloud NAME, or --auth-url URL --username NAME [--project P].");
    cloud = {
      name: "(command line)", file: "", authType: "password", authMethods: [], authUrl: o.authUrl,
      username: o.username, userDomainName: o.userDomain, projectName: o.project, projectDomainName: o.project ? o.projectDomain : undefined,
    };
  }
  return { cloud, ks };
}

/** The caller's cloud and password (clouds.yaml, $OS_PASSWORD, --password, or a prompt). */
async function resolveCaller(o: AuthOptions) {
  const { cloud, ks } = await resolveCloud(o);
  const password = o.password !== undefined ? await readPassword(o.password, `Keystone password of ${cloud.username ?? cloud.userId}`, null)
    : cloud.password ?? (await readPassword(undefined, `Keystone password of ${cloud.username ?? cloud.userId}`, "OS_PASSWORD"));
  if (!password) throw new UsageError(`No password for ${cloud.username ?? cloud.userId}: put it in clouds.yaml, $OS_PASSWORD, or pass --password - and pipe it in.`);
  return { cloud, password, ks };
}

function loadCloudOrUsage(ks: typeof import("../../integrations/keystone/index.ts"), name: string) {
  try {
    return ks.loadCloud(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Keystone and enrolment errors become one sentence with the Keystone exit code. */
async function keystoneErrors<T>(fn: () => Promise<T>): Promise<T> {
  const ks = await import("../../integrations/keystone/index.ts");
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ks.KeystoneError || err instanceof ks.EnrollError) throw new KeystoneCliError(err.message);
    throw err;
  }
}

interface EnrollCliOptions extends CommonOptions, AuthOptions {
  name: string;
  userId?: string;
  userPassword?: string | true;
  credentialProject?: string;
  rules: string;
  dryRun?: boolean;
  verify?: string;
  insecure?: boolean;
}

interface CloudCliOptions {
  json?: boolean;
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
  password?: string | true;
  plugin?: boolean;
  slot?: string;
}

export function register(program: Command): void {
  const keystone = program
    .command("keystone")
    .description("OpenStack Keystone: enrol the token as a TOTP credential, write clouds.yaml, cache tokens");

  addCommonOptions(
    addAuthOptions(
      keystone
        .command("enroll")
        .description("generate a seed, store it in the token, register it with Keystone, set the MFA rule, and verify")
        .option("-n, --name <slot>", "slot name on the token", "keystone")
        .option("--user-id <id>", "enrol this user (id or name) instead of the one logging in (needs admin rights)")
        .option("--verify <how>", "totp (default): check with TOTP-only logins, no password needed; password: password+TOTP logs in and password alone is refused (needs the user's password)")
        .option("--user-password [spec]", "that user's password, for --verify password (-, @FILE, prompt; default $HWTOTP_KEYSTONE_USER_PASSWORD); implies --verify password")
        .option("--insecure", "allow plain http:// to a Keystone that is not on this machine (the seed would cross the network unencrypted)")
        .option("--credential-project <name>", "attach the credential to this project (default: none)")
        .option("--rules <mode>", "auto: set rule [password,totp] + enable when allowed, else warn; require: fail if not allowed; skip", "auto")
        .option("--dry-run", "print the steps, the rollback policy and the inputs still needed; reads no password, logs in nowhere, changes nothing"),
    ),
  ).action(async (o: EnrollCliOptions) => {
    const bad = checkName(o.name, "slot name");
    if (bad) throw new UsageError(bad);
    if (!["auto", "require", "skip"].includes(o.rules)) throw new UsageError("--rules must be auto, require or skip.");
    if (o.verify !== undefined && o.verify !== "totp" && o.verify !== "password") throw new UsageError("--verify must be totp or password.");
    if (o.verify === "totp" && o.userPassword !== undefined) throw new UsageError("--user-password is for --verify password; --verify totp needs no password.");
    const verify: "totp" | "password" = (o.verify as "totp" | "password" | undefined) ?? (o.userPassword !== undefined ? "password" : "totp");
    o.verify = verify;
    const other = (c: { userId?: string; username?: string }) => o.userId !== undefined && o.userId !== c.userId && o.userId !== c.username;
    if (o.dryRun) return dryRunEnroll(o, other);
    {
      const { cloud } = await resolveCloud(o);
      const plain = (await import("../../integrations/keystone/enroll.ts")).insecureTransport(cloud.authUrl);
      if (plain && !o.insecure) throw new UsageError(`Refusing to enrol over ${cloud.authUrl}: ${plain} Use https://, or --insecure if you must.`);
      if (plain) say(`WARNING: ${plain} (--insecure)`);
    }
    const { cloud, password, ks } = await resolveCaller(o);
    let targetPassword: string | undefined;
    if (other(cloud) && verify === "password") {
      targetPassword = await readPassword(o.userPassword, `Keystone password of ${o.userId}`, "HWTOTP_KEYSTONE_USER_PASSWORD");
      if (targetPassword === undefined) {
        throw new UsageError(`--verify password needs ${o.userId}'s password: --user-password - (stdin) or @FILE, or $HWTOTP_KEYSTONE_USER_PASSWORD (the default --verify totp needs none).`);
      }
    }
    const client = new ks.KeystoneClient({ authUrl: cloud.authUrl });
    const run = (device: import("../../integrations/keystone/enroll.ts").EnrollDevice) =>
      keystoneErrors(() =>
        ks.enrollKeystone({
          client, device, slot: o.name, rules: o.rules as "auto" | "require" | "skip",
          caller: { user: ks.userRefOf(cloud), password, project: ks.projectScopeOf(cloud) },
          targetUser: o.userId, targetPassword, credentialProject: o.credentialProject, verify,
          log: o.json ? undefined : say,
        }),
      );
    const r = await withSession(o, (s) => run(s));
    for (const w of r.warnings) say("WARNING: " + w);
    output(o, r, () => {
      const lines = [
        `Enrolled ${r.user.name} (${r.user.id}): slot "${r.slot}", Keystone credential ${r.credentialId}.`,
        `MFA: ${r.mfa.after.enabled ? "enabled" : "not enabled"}, rules ${JSON.stringify(r.mfa.after.rules)}${r.mfa.changed ? " (set now)" : ""}.`,
        r.verified.method === "password"
          ? `Verified: password + token code logs in; password alone ${
            { "refused-mfa": "is refused", accepted: "STILL LOGS IN", refused: "is refused", "not-checked": "was not checked (no MFA rule in force)" }[r.verified.passwordOnly]
          }.`
          : `Verified without ${r.user.name}'s password: Keystone accepts the token's code; a code alone ${
            { receipt: "gets an auth receipt that still asks for the password (the rule is enforced)", token: "LOGS IN (no rule enforced)", "not-checked": "was not checked again (no MFA rule in force)" }[r.verified.totpOnly]
          }.`,
      ];
      return lines.join("\n");
    });
    if (r.verified.passwordOnly === "accepted" || r.verified.totpOnly === "token" || r.verified.weakRules.length > 0) process.exitCode = KEYSTONE_EXIT.NOT_ENFORCED;
  });

  keystone
    .command("cloud")
    .argument("<name>", "clouds.yaml entry to write or update")
    .description("write a clouds.yaml entry for password+TOTP (auth_type hwtotp with --plugin, else v3multifactor), keeping other entries and comments")
    .option("--plugin", "auth_type hwtotp: the keystoneauth plugin asks the token for a code (hwtotp keystone plugin install); no wrapper")
    .option("--slot <name>", "with --plugin: the token's slot (auth.hwtotp_slot; default: the only slot)")
    .option("--file <path>", "clouds.yaml to edit (default: the one the openstack CLI reads, else ~/.config/openstack/clouds.yaml)")
    .option("--from <cloud>", "start from a copy of this entry (when NAME does not exist yet)")
    .option("--auth-url <url>", "Keystone URL")
    .option("--username <name>", "user name")
    .option("--user-id <id>", "user id (instead of a name)")
    .option("--user-domain <name>", "domain of the user (default on a new entry: Default)")
    .option("--project <name>", "project to scope to")
    .option("--project-id <id>", "project id to scope to")
    .option("--project-domain <name>", "domain of the project (default on a new entry: Default)")
    .option("--region <name>", "region_name")
    .option("--password [spec]", "store this password: - (stdin), @FILE, or a prompt (v3multifactor and hwtotp read it only from clouds.yaml)")
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: CloudCliOptions) => {
      if (o.slot !== undefined) {
        if (!o.plugin) throw new UsageError("--slot goes with --plugin.");
        const bad = checkName(o.slot, "slot name");
        if (bad) throw new UsageError(bad);
      }
      const { writeMfaCloud, defaultCloudsFileForWrite } = await import("../../integrations/keystone/clouds.ts");
      const file = o.file ?? defaultCloudsFileForWrite();
      const { existsSync, readFileSync } = await import("node:fs");
      const { parse } = await import("yaml");
      const exists = existsSync(file) && parse(readFileSync(file, "utf8"))?.clouds?.[name] !== undefined;
      const password = o.password !== undefined ? await readPassword(o.password, "Keystone password to store in clouds.yaml", null) : undefined;
      const isNew = !exists && o.from === undefined;
      let r;
      try {
        r = writeMfaCloud(file, name, {
          authUrl: o.authUrl, username: o.username, userId: o.userId, password, projectName: o.project, projectId: o.projectId,
          userDomainName: o.userDomain ?? (isNew && o.username ? "Default" : undefined),
          projectDomainName: o.projectDomain ?? (isNew && o.project ? "Default" : undefined),
          regionName: o.region, authType: o.plugin ? "hwtotp" : "v3multifactor", slot: o.slot,
        }, o.from);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (r.tightened) say(`${file} was readable by others; it holds a password, so it is now mode 600.`);
      if (isNew && password === undefined) say(`Note: the openstack CLI reads this password only from clouds.yaml; add it with --password.`);
      output({ json: o.json }, { cloud: name, authType: o.plugin ? "hwtotp" : "v3multifactor", ...r }, () =>
        `${r.created ? "Created" : "Updated"} ${file}: cloud "${name}" uses password+TOTP${o.plugin ? " through the hwtotp plugin" : ""}.\n` +
        (o.plugin
          ? `Use it:  openstack --os-cloud ${name} project list   (after hwtotp keystone plugin install)`
          : `Use it:  hwtotp exec -- openstack --os-cloud ${name} project list`),
      );
    });

  addCommonOptions(
    keystone
      .command("login")
      .description("get a Keystone token with password + a code from the token, into the token cache (exec --token-cache uses it)")
      .option("--os-cloud <name>", "clouds.yaml entry (default: $OS_CLOUD)")
      .option("-n, --name <slot>", "slot to take the code from (default: the cloud's auth.hwtotp_slot, else the only slot)")
      .option("--cache <file>", "token cache file (default: $HWTOTP_TOKEN_CACHE, else $XDG_RUNTIME_DIR/hwtotp/keystone-tokens.json)"),
  ).action(async (o: CommonOptions & { osCloud?: string; name?: string; cache?: string }) => {
    const { cloud, ks, token } = await cachedToken(o, o.osCloud);
    void ks;
    output(o, { cloud: cloud.name, issued: token.issued, expiresAt: new Date(token.token.expiresAt).toISOString(), projectId: token.token.projectId ?? null, file: token.file }, () =>
      `${token.issued ? "Logged in" : "Already logged in"}: cloud "${cloud.name}", token valid until ${new Date(token.token.expiresAt).toISOString()}.`,
    );
  });

  const plugin = keystone.command("plugin").description("the keystoneauth1 plugin for the openstack CLI (clouds.yaml auth_type: hwtotp)");
  for (const action of ["install", "uninstall"] as const) {
    plugin
      .command(action)
      .description(action === "install"
        ? "install the plugin where Debian's python3-openstackclient finds it (no pip, no PyPI), and check that keystoneauth1 loads it"
        : "remove the plugin")
      .option("--user", "the invoking user's site-packages (default)")
      .option("--system", "for every user: the interpreter's /usr/local site-packages (as root)")
      .option("--python <path>", "the interpreter the openstack CLI runs on", "/usr/bin/python3")
      .option("--json", "print one JSON document on stdout")
      .action(async (o: { user?: boolean; system?: boolean; python: string; json?: boolean }) => {
        if (o.user && o.system) throw new UsageError("Give --user or --system, not both.");
        const pi = await import("../../integrations/keystone/plugin-install.ts");
        const scope = o.system ? "system" : "user";
        let r: import("../../integrations/keystone/plugin-install.ts").InstallResult;
        try {
          r = action === "install" ? pi.installPlugin({ scope, python: o.python }) : pi.uninstallPlugin({ scope, python: o.python });
        } catch (err) {
          if (err instanceof pi.PluginInstallError) throw new KeystoneCliError(err.message, 1, "E_PLUGIN");
          throw err;
        }
        output({ json: o.json }, r, () => {
          const py = `${r.python} (Python ${r.pythonVersion}, keystoneauth1 ${r.keystoneauth ?? "missing"})`;
          if (r.action === "uninstall") {
            return r.files.length ? `Removed the hwtotp plugin from ${r.dir} for ${py}.` : `The hwtotp plugin was not installed in ${r.dir}.`;
          }
          return `Installed the hwtotp keystoneauth plugin into ${r.dir} for ${py}.\n` +
            (r.verified ? "keystoneauth1 loads auth_type hwtotp from there." : `WARNING: keystoneauth1 ${r.loadedFrom ? "loads hwtotp from " + r.loadedFrom + " instead" : "does not find it"}.`) +
            "\nWrite a cloud for it:  hwtotp keystone cloud NAME --plugin --auth-url URL --username USER --project P --password -";
        });
        if (r.action === "install" && !r.verified) process.exitCode = 1;
      });
  }

  keystone
    .command("logout")
    .description("drop cached Keystone tokens (one cloud's, or all) and revoke them")
    .option("--os-cloud <name>", "clouds.yaml entry (default: $OS_CLOUD)")
    .option("--all", "every cached token")
    .option("--cache <file>", "token cache file")
    .option("--json", "print one JSON document on stdout")
    .action(async (o: { osCloud?: string; all?: boolean; cache?: string; json?: boolean }) => {
      const ks = await import("../../integrations/keystone/index.ts");
      const name = o.osCloud ?? process.env.OS_CLOUD;
      if (!o.all && !name) throw new UsageError("Say which: --os-cloud NAME, or --all.");
      const gone = ks.forgetTokens(o.all ? null : loadCloudOrUsage(ks, name!), { file: o.cache, warn: say });
      let revoked = 0;
      for (const t of gone) {
        if (t.expiresAt <= Date.now()) continue;
        await new ks.KeystoneClient({ authUrl: t.authUrl, timeoutMs: 5000 }).revokeToken(t.token, t.token).then(() => revoked++, () => undefined);
      }
      output({ json: o.json }, { dropped: gone.length, revoked }, () => `Dropped ${gone.length} cached token(s), revoked ${revoked}.`);
    });
}

/** Where a password would come from, without reading it (`spec` as given to --password / --user-password). */
function passwordSource(spec: string | true | undefined, opt: string, fallbacks: { what: string; present: boolean }[], what: string) {
  if (spec === "-") return { what, from: `stdin (${opt} -)`, present: null };
  if (typeof spec === "string" && spec.startsWith("@")) {
    const readable = (() => {
      try {
        accessSync(spec.slice(1), constants.R_OK);
        return true;
      } catch {
        return false;
      }
    })();
    return { what, from: `file ${spec.slice(1)} (${opt} ${spec})${readable ? "" : ": not readable"}`, present: readable };
  }
  if (spec !== undefined) return { what, from: `a prompt on the terminal (${opt})`, present: process.stdin.isTTY ? null : false };
  const found = fallbacks.find((f) => f.present);
  if (found) return { what, from: found.what, present: true };
  const tried = fallbacks.map((f) => f.what).join(", ");
  return process.stdin.isTTY
    ? { what, from: `a prompt on the terminal (nothing in ${tried})`, present: null }
    : { what, from: `nowhere: nothing in ${tried}, and no terminal to prompt on; pass ${opt} - and pipe it in, or ${opt} @FILE`, present: false };
}

/** `enroll --dry-run`: the plan and the secret-free checks; reads no password, logs in nowhere, writes nothing. */
async function dryRunEnroll(o: EnrollCliOptions, other: (c: { userId?: string; username?: string }) => boolean): Promise<void> {
  const { cloud, ks } = await resolveCloud(o);
  const who = cloud.username ?? cloud.userId ?? "?";
  const scope = cloud.projectName ?? cloud.projectId;
  const caller = `${who}${cloud.username && cloud.userDomainName ? ` (domain ${cloud.userDomainName})` : ""}${scope ? ` scoped to project ${scope}` : ", unscoped"}`;
  const needs: import("../../integrations/keystone/enroll.ts").DryRunNeed[] = [
    passwordSource(o.password, "--password", [
      ...(cloud.file ? [{ what: `clouds.yaml entry "${cloud.name}" (${cloud.file})`, present: !!cloud.password }] : []),
      { what: "$OS_PASSWORD", present: !!process.env.OS_PASSWORD },
    ], `password of ${who} (to log in)`),
  ];
  if (other(cloud) && o.verify === "password") {
    needs.push(passwordSource(o.userPassword, "--user-password", [
      { what: "$HWTOTP_KEYSTONE_USER_PASSWORD", present: !!process.env.HWTOTP_KEYSTONE_USER_PASSWORD },
    ], `password of ${o.userId} (for the verification logins)`));
  }
  needs.push({ what: "the token (to store the seed and read codes)", from: o.device ?? process.env.HWTOTP_DEVICE ?? "the daemon, else the one attached board", present: null });
  const plan = await ks.planEnrollment({
    client: new ks.KeystoneClient({ authUrl: cloud.authUrl, timeoutMs: 5000 }),
    caller, targetUser: other(cloud) ? o.userId : undefined, slot: o.name, credentialProject: o.credentialProject,
    rules: o.rules as "auto" | "require" | "skip", verify: o.verify as "totp" | "password",
    listSlots: () => withSession(o, (s) => s.list()), needs,
  });
  const tokenCheck = plan.checks.find((c) => c.what === "token");
  if (tokenCheck?.ok) needs[needs.length - 1].present = true;
  output(o, plan, () => {
    const mark = (ok: boolean | null) => (ok === true ? "ok" : ok === false ? "PROBLEM" : "--");
    return [
      "Dry run: nothing was written to the token or to Keystone, no password was read, no login made.",
      "Would:",
      ...plan.steps.map((p, i) => `  ${i + 1}. ${p}`),
      "On failure:",
      ...plan.rollback.map((p) => `  - ${p}`),
      "Checked now (read-only, no secrets):",
      ...plan.checks.map((c) => `  [${mark(c.ok)}] ${c.what}: ${c.detail}`),
      "Still needs:",
      ...plan.needs.map((n) => `  - ${n.what}: from ${n.from}${n.present === true ? " (present)" : n.present === false ? " — MISSING" : ""}`),
    ].join("\n");
  });
}

/** A token for the cloud from the cache, or one login with a fresh code from the device. */
async function cachedToken(o: CommonOptions & { name?: string; cache?: string }, cloudName: string | undefined) {
  const ks = await import("../../integrations/keystone/index.ts");
  const { freshCode } = await import("../../exec.ts");
  const name = cloudName ?? process.env.OS_CLOUD;
  if (!name) throw new UsageError("Which cloud? Give --os-cloud NAME (to hwtotp or to openstack), or set $OS_CLOUD.");
  const cloud = loadCloudOrUsage(ks, name);
  // The code goes straight into one login, and Keystone also accepts the previous step: no reason to wait
  // for a fresh step (and to reveal a code that is then thrown away).
  const minLeft = 0;
  const getIt = () =>
    ks.getToken(cloud, {
      file: o.cache,
      password: process.env.OS_PASSWORD,
      warn: say,
      passcode: async () => {
        const c = await withSession(o, (s) => freshCode(s, { name: o.name ?? cloud.slot, minLeft, onWait: (left) => say(`Only ${Math.round(left)} s left in this step; waiting for the next code.`) }));
        return c.code as string;
      },
    });
  const token = await keystoneErrors(async () => {
    try {
      return await getIt();
    } catch (err) {
      if (err instanceof ks.MissingPasswordError) throw new UsageError(err.message);
      if (err instanceof ks.KeystoneAuthError && !err.receipt) {
        throw new ks.KeystoneError(`${err.message} Password and code were refused: is the token's clock right and not ahead (\`hwtotp time sync\`), and is this the slot enrolled for ${cloud.username ?? cloud.userId}?`, 401);
      }
      throw err;
    }
  });
  return { cloud, ks, token };
}

/**
 * `hwtotp exec --token-cache[=CLOUD] -- CMD…`: runs CMD with a cached Keystone token instead of a passcode.
 * The cloud is the option's value, else `--os-cloud` in CMD's arguments (taken out: with a token the
 * openstack CLI must not load the v3multifactor entry), else $OS_CLOUD. Resolves with CMD's exit code.
 */
export async function execWithTokenCache(argv: string[], o: CommonOptions & { name?: string; tokenCache: string | true }): Promise<number> {
  const ks = await import("../../integrations/keystone/index.ts");
  const { runChild } = await import("../../exec.ts");
  const taken = ks.takeOsCloudArg(argv);
  const cloudName = typeof o.tokenCache === "string" ? o.tokenCache : taken.cloud;
  const { token } = await cachedToken(o, cloudName).catch((err) => {
    // `hwtotp exec --token-cache openstack …` (no --) reads "openstack" as the cloud's name.
    if (err instanceof UsageError && typeof o.tokenCache === "string" && /No cloud named/.test(err.message)) {
      throw new UsageError(`${err.message} (--token-cache takes an optional cloud name: put -- before the command.)`);
    }
    throw err;
  });
  if (token.issued) say(`Logged in to Keystone with a code from the token; cached until ${new Date(token.token.expiresAt).toISOString()}.`);
  const env = ks.tokenEnv(token.token, process.env);
  const extra: NodeJS.ProcessEnv = { ...env };
  for (const k of Object.keys(process.env)) if (!(k in env)) extra[k] = undefined; // dropped: OS_PASSWORD, OS_CLOUD…
  const [cmd, ...args] = taken.argv;
  return runChild(cmd, args, extra);
}
