// Who logs in to Keystone, and with which password: a clouds.yaml entry or --auth-url/--username/--project,
// and a password from clouds.yaml, $OS_PASSWORD, stdin (-), a file (@FILE) or a prompt — never from argv.
// `passwordSource` says where a password would come from without reading it (enroll --dry-run).
import { accessSync, constants } from "node:fs";
import { UsageError } from "../../errors.ts";
import { readSecret } from "../../secret-input.ts";
import { type CloudConfig, loadCloud } from "./clouds.ts";

/** How the caller is named on the command line (the CLI's --os-cloud … --password options). */
export interface AuthOptions {
  osCloud?: string;
  authUrl?: string;
  username?: string;
  userDomain: string;
  project?: string;
  projectDomain: string;
  /** - (stdin), @FILE, or true (a prompt); undefined: clouds.yaml, else $OS_PASSWORD, else a prompt. */
  password?: string | true;
}

/** A password from `spec` (as given to --password), else $envVar, else a prompt on a terminal; else undefined. */
export async function readPassword(spec: string | true | undefined, what: string, envVar: string | null): Promise<string | undefined> {
  if (spec !== undefined) return (await readSecret(spec, { what })).value;
  if (envVar && process.env[envVar]) return process.env[envVar];
  if (process.stdin.isTTY) return (await readSecret(true, { what })).value;
  return undefined;
}

/** The clouds.yaml entry `name`; a missing file or entry is bad input. */
export function loadCloudOrUsage(name: string): CloudConfig {
  try {
    return loadCloud(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Who logs in: a clouds.yaml entry (--os-cloud, else $OS_CLOUD), or --auth-url/--username/--project. Reads no password. */
export function resolveCloud(o: AuthOptions): CloudConfig {
  const cloudName = o.osCloud ?? (o.authUrl ? undefined : process.env.OS_CLOUD);
  if (cloudName) return loadCloudOrUsage(cloudName);
  if (!o.authUrl || !o.username)
    throw new UsageError("Say where and who: --os-cloud NAME, or --auth-url URL --username NAME [--project P].");
  return {
    name: "(command line)",
    file: "",
    authType: "password",
    authMethods: [],
    authUrl: o.authUrl,
    username: o.username,
    userDomainName: o.userDomain,
    projectName: o.project,
    projectDomainName: o.project ? o.projectDomain : undefined,
  };
}

/** The caller's cloud and password (--password, else clouds.yaml, else $OS_PASSWORD, else a prompt). */
export async function resolveCaller(o: AuthOptions): Promise<{ cloud: CloudConfig; password: string }> {
  const cloud = resolveCloud(o);
  const what = `Keystone password of ${cloud.username ?? cloud.userId}`;
  const password =
    o.password !== undefined
      ? await readPassword(o.password, what, null)
      : (cloud.password ?? (await readPassword(undefined, what, "OS_PASSWORD")));
  if (!password)
    throw new UsageError(
      `No password for ${cloud.username ?? cloud.userId}: put it in clouds.yaml, $OS_PASSWORD, or pass --password - and pipe it in.`,
    );
  return { cloud, password };
}

/** Where a password would come from, without reading it (`spec` as given to `opt`, e.g. --password). */
export function passwordSource(
  spec: string | true | undefined,
  opt: string,
  fallbacks: { what: string; present: boolean }[],
  what: string,
) {
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
    : {
        what,
        from: `nowhere: nothing in ${tried}, and no terminal to prompt on; pass ${opt} - and pipe it in, or ${opt} @FILE`,
        present: false,
      };
}
