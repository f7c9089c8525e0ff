// hwtotp keystone enroll | cloud | login | logout | plugin install|uninstall — the OpenStack Keystone
// integration's CLI. It parses options, calls one function of host/src/integrations/keystone/operations.ts
// and prints. Passwords come from clouds.yaml, $OS_PASSWORD, stdin (-), a file (@FILE) or a prompt — never from argv.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, deviceAccess, output, say } from "../context.ts";
import { EXIT, UsageError } from "../../errors.ts";
import { checkName } from "../../../../protocol/index.ts";
import type { AuthOptions } from "../../integrations/keystone/passwords.ts";
import type { CloudEntryOptions } from "../../integrations/keystone/operations.ts";

function addAuthOptions(cmd: Command): Command {
  return cmd
    .option("--os-cloud <name>", "log in as this clouds.yaml entry (default: $OS_CLOUD)")
    .option("--auth-url <url>", "Keystone URL, e.g. http://keystone:5000/v3 (instead of --os-cloud)")
    .option("--username <name>", "user to log in as (with --auth-url)")
    .option("--user-domain <name>", "domain of --username", "Default")
    .option("--project <name>", "project to scope to (with --auth-url)")
    .option("--project-domain <name>", "domain of --project", "Default")
    .option(
      "--password [spec]",
      "password: - (stdin), @FILE, or a prompt when no value (default: clouds.yaml, else $OS_PASSWORD, else a prompt)",
    );
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

interface CloudCliOptions extends CloudEntryOptions {
  json?: boolean;
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
        .option(
          "--verify <how>",
          "totp (default): check with TOTP-only logins, no password needed; password: password+TOTP logs in and " +
            "password alone is refused (needs the user's password)",
        )
        .option(
          "--user-password [spec]",
          "that user's password, for --verify password (-, @FILE, prompt; default $HWTOTP_KEYSTONE_USER_PASSWORD); " +
            "implies --verify password",
        )
        .option(
          "--insecure",
          "allow plain http:// to a Keystone that is not on this machine (the seed would cross the network unencrypted)",
        )
        .option("--credential-project <name>", "attach the credential to this project (default: none)")
        .option(
          "--rules <mode>",
          "auto: set rule [password,totp] + enable when allowed, else warn; require: fail if not allowed; skip",
          "auto",
        )
        .option(
          "--dry-run",
          "print the steps, the rollback policy and the inputs still needed; reads no password, logs in nowhere, changes nothing",
        ),
    ),
  ).action(async (o: EnrollCliOptions) => {
    const bad = checkName(o.name, "slot name");
    if (bad) throw new UsageError(bad);
    if (!["auto", "require", "skip"].includes(o.rules)) throw new UsageError("--rules must be auto, require or skip.");
    if (o.verify !== undefined && o.verify !== "totp" && o.verify !== "password")
      throw new UsageError("--verify must be totp or password.");
    if (o.verify === "totp" && o.userPassword !== undefined)
      throw new UsageError("--user-password is for --verify password; --verify totp needs no password.");
    const verify: "totp" | "password" =
      (o.verify as "totp" | "password" | undefined) ?? (o.userPassword !== undefined ? "password" : "totp");
    const ops = await import("../../integrations/keystone/operations.ts");
    const eo = {
      ...o,
      rules: o.rules as "auto" | "require" | "skip",
      verify,
      progress: !o.json,
      deviceLabel: o.device ?? process.env.HWTOTP_DEVICE ?? "the daemon, else the one attached board",
    };
    if (o.dryRun) return printPlan(o, await ops.planFromCloud(eo, deviceAccess(o)));
    const r = await ops.enrollFromCloud(eo, deviceAccess(o), say);
    for (const w of r.warnings) say("WARNING: " + w);
    output(o, r, () => {
      const lines = [
        `Enrolled ${r.user.name} (${r.user.id}): slot "${r.slot}", Keystone credential ${r.credentialId}.`,
        `MFA: ${r.mfa.after.enabled ? "enabled" : "not enabled"}, rules ${JSON.stringify(r.mfa.after.rules)}${r.mfa.changed ? " (set now)" : ""}.`,
        r.verified.method === "password"
          ? `Verified: password + token code logs in; password alone ${
              {
                "refused-mfa": "is refused",
                accepted: "STILL LOGS IN",
                refused: "is refused",
                "not-checked": "was not checked (no MFA rule in force)",
              }[r.verified.passwordOnly]
            }.`
          : `Verified without ${r.user.name}'s password: Keystone accepts the token's code; a code alone ${
              {
                receipt: "gets an auth receipt that still asks for the password (the rule is enforced)",
                token: "LOGS IN (no rule enforced)",
                "not-checked": "was not checked again (no MFA rule in force)",
              }[r.verified.totpOnly]
            }.`,
      ];
      return lines.join("\n");
    });
    if (ops.notEnforced(r)) process.exitCode = EXIT.NOT_ENFORCED;
  });

  keystone
    .command("cloud")
    .argument("<name>", "clouds.yaml entry to write or update")
    .description(
      "write a clouds.yaml entry for password+TOTP (auth_type hwtotp with --plugin, else v3multifactor), keeping other " +
        "entries and comments",
    )
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
    .option(
      "--password [spec]",
      "store this password: - (stdin), @FILE, or a prompt (v3multifactor and hwtotp read it only from clouds.yaml)",
    )
    .option("--json", "print one JSON document on stdout")
    .action(async (name: string, o: CloudCliOptions) => {
      if (o.slot !== undefined) {
        if (!o.plugin) throw new UsageError("--slot goes with --plugin.");
        const bad = checkName(o.slot, "slot name");
        if (bad) throw new UsageError(bad);
      }
      const {
        written: r,
        authType,
        isNew,
        passwordStored,
      } = await (await import("../../integrations/keystone/operations.ts")).writeCloud(name, o);
      const file = r.file;
      if (r.tightened) say(`${file} was readable by others; it holds a password, so it is now mode 600.`);
      if (isNew && !passwordStored) say(`Note: the openstack CLI reads this password only from clouds.yaml; add it with --password.`);
      output(
        { json: o.json },
        { cloud: name, authType, ...r },
        () =>
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
    const ops = await import("../../integrations/keystone/operations.ts");
    const { cloud, token } = await ops.cachedToken(o.osCloud, o, deviceAccess(o), say);
    output(
      o,
      {
        cloud: cloud.name,
        issued: token.issued,
        expiresAt: new Date(token.token.expiresAt).toISOString(),
        projectId: token.token.projectId ?? null,
        file: token.file,
      },
      () =>
        `${token.issued ? "Logged in" : "Already logged in"}: cloud "${cloud.name}", token valid until ${new Date(token.token.expiresAt).toISOString()}.`,
    );
  });

  const plugin = keystone.command("plugin").description("the keystoneauth1 plugin for the openstack CLI (clouds.yaml auth_type: hwtotp)");
  for (const action of ["install", "uninstall"] as const) {
    plugin
      .command(action)
      .description(
        action === "install"
          ? "install the plugin where Debian's python3-openstackclient finds it (no pip, no PyPI), and check that keystoneauth1 loads it"
          : "remove the plugin",
      )
      .option("--user", "the invoking user's site-packages (default)")
      .option("--system", "for every user: the interpreter's /usr/local site-packages (as root)")
      .option("--python <path>", "the interpreter the openstack CLI runs on", "/usr/bin/python3")
      .option("--json", "print one JSON document on stdout")
      .action(async (o: { user?: boolean; system?: boolean; python: string; json?: boolean }) => {
        if (o.user && o.system) throw new UsageError("Give --user or --system, not both.");
        const r = (await import("../../integrations/keystone/operations.ts")).pluginAction(action, {
          scope: o.system ? "system" : "user",
          python: o.python,
        });
        output({ json: o.json }, r, () => {
          const py = `${r.python} (Python ${r.pythonVersion}, keystoneauth1 ${r.keystoneauth ?? "missing"})`;
          if (r.action === "uninstall") {
            return r.files.length
              ? `Removed the hwtotp plugin from ${r.dir} for ${py}.`
              : `The hwtotp plugin was not installed in ${r.dir}.`;
          }
          return (
            `Installed the hwtotp keystoneauth plugin into ${r.dir} for ${py}.\n` +
            (r.verified
              ? "keystoneauth1 loads auth_type hwtotp from there."
              : `WARNING: keystoneauth1 ${r.loadedFrom ? "loads hwtotp from " + r.loadedFrom + " instead" : "does not find it"}.`) +
            "\nWrite a cloud for it:  hwtotp keystone cloud NAME --plugin --auth-url URL --username USER --project P --password -"
          );
        });
        if (r.action === "install" && !r.verified) process.exitCode = EXIT.ERROR;
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
      const r = await (await import("../../integrations/keystone/operations.ts")).logout(o, say);
      output({ json: o.json }, r, () => `Dropped ${r.dropped} cached token(s), revoked ${r.revoked}.`);
    });
}

/** `enroll --dry-run`'s text: the plan, the rollback policy, the secret-free checks and the inputs still needed. */
function printPlan(o: CommonOptions, plan: import("../../integrations/keystone/enroll.ts").EnrollPlan): void {
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
      ...plan.needs.map(
        (n) => `  - ${n.what}: from ${n.from}${n.present === true ? " (present)" : n.present === false ? " — MISSING" : ""}`,
      ),
    ].join("\n");
  });
}
