// clouds.yaml (openstacksdk's client config): find it, read one cloud (merged with secure.yaml), and write
// an entry for password+TOTP — `auth_type: hwtotp` (this project's keystoneauth plugin, python/) or
// `v3multifactor` (the only built-in form in which Debian 12's openstack CLI does it, with OS_PASSCODE) —
// without touching other entries or comments (yaml Document API).

import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { isMap, parseDocument, type Document } from "yaml";
import { writePrivateFile } from "../../private-file.ts";

export interface CloudConfig {
  name: string;
  file: string;
  authType: string | null;
  authMethods: string[];
  authUrl: string;
  username?: string;
  userId?: string;
  password?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  regionName?: string;
  interface?: string;
  /** auth.hwtotp_slot of an `auth_type: hwtotp` entry: the token's slot for this cloud. */
  slot?: string;
}

/** Where openstacksdk looks, in its order (OS_CLIENT_CONFIG_FILE alone when set). */
export function cloudsFileCandidates(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), home = homedir()): string[] {
  if (env.OS_CLIENT_CONFIG_FILE) return [env.OS_CLIENT_CONFIG_FILE];
  const dirs = [cwd, join(env.XDG_CONFIG_HOME || join(home, ".config"), "openstack"), "/etc/openstack"];
  const out: string[] = [];
  for (const d of dirs) for (const f of ["clouds.yaml", "clouds.yml"]) out.push(join(d, f));
  return out;
}

/** The clouds.yaml in use, or null. */
export function findCloudsFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), home = homedir()): string | null {
  return cloudsFileCandidates(env, cwd, home).find((f) => existsSync(f)) ?? null;
}

/** The file `hwtotp keystone cloud` writes to: the one in use, else ~/.config/openstack/clouds.yaml. */
export function defaultCloudsFileForWrite(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), home = homedir()): string {
  return (
    findCloudsFile(env, cwd, home) ??
    (env.OS_CLIENT_CONFIG_FILE || join(env.XDG_CONFIG_HOME || join(home, ".config"), "openstack", "clouds.yaml"))
  );
}

function str(x: unknown): string | undefined {
  return typeof x === "string" && x.length > 0 ? x : typeof x === "number" ? String(x) : undefined;
}

function asObj(x: unknown): Record<string, unknown> {
  return x && typeof x === "object" && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] =
      v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object" ? deepMerge(asObj(out[k]), asObj(v)) : v;
  }
  return out;
}

/** Parses a cloud entry object (already merged with secure.yaml) into a CloudConfig. */
export function parseCloudEntry(name: string, file: string, entry: Record<string, unknown>): CloudConfig {
  const auth = asObj(entry.auth);
  const methods = Array.isArray(auth.auth_methods) ? auth.auth_methods.filter((m): m is string => typeof m === "string") : [];
  const authUrl = str(auth.auth_url);
  if (!authUrl) throw new Error(`Cloud "${name}" in ${file} has no auth.auth_url.`);
  const c: CloudConfig = { name, file, authType: str(entry.auth_type) ?? null, authMethods: methods, authUrl };
  const pick: [keyof CloudConfig, unknown][] = [
    ["username", auth.username],
    ["userId", auth.user_id],
    ["password", auth.password],
    ["userDomainName", auth.user_domain_name ?? auth.domain_name],
    ["userDomainId", auth.user_domain_id ?? auth.domain_id],
    ["projectName", auth.project_name ?? auth.tenant_name],
    ["projectId", auth.project_id ?? auth.tenant_id],
    ["projectDomainName", auth.project_domain_name ?? auth.domain_name],
    ["projectDomainId", auth.project_domain_id ?? auth.domain_id],
    ["regionName", entry.region_name],
    ["interface", entry.interface],
    ["slot", auth.hwtotp_slot],
  ];
  for (const [k, v] of pick) {
    const s = str(v);
    if (s !== undefined) (c as unknown as Record<string, string>)[k] = s;
  }
  return c;
}

/** Reads cloud `name` from the clouds.yaml in use (or `file`), merged with secure.yaml beside it. */
export function loadCloud(name: string, opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): CloudConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? findCloudsFile(env);
  if (!file) throw new Error(`No clouds.yaml found (looked at ${cloudsFileCandidates(env).join(", ")}).`);
  const doc = parseDocument(readFileSync(file, "utf8"));
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
  let entry = asObj(asObj(asObj(doc.toJS()).clouds)[name]);
  const secureFile =
    env.OS_CLIENT_SECURE_FILE || ["secure.yaml", "secure.yml"].map((f) => join(dirname(file), f)).find((f) => existsSync(f));
  if (secureFile && existsSync(secureFile)) {
    const sec = asObj(asObj(asObj(parseDocument(readFileSync(secureFile, "utf8")).toJS()).clouds)[name]);
    entry = deepMerge(entry, sec);
  }
  if (Object.keys(entry).length === 0) throw new Error(`No cloud named "${name}" in ${file}.`);
  return parseCloudEntry(name, file, entry);
}

/** The auth fields `hwtotp keystone cloud` sets; undefined leaves a field as it is. */
export interface MfaCloudFields {
  authUrl?: string;
  username?: string;
  userId?: string;
  password?: string;
  userDomainName?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  regionName?: string;
  /** "hwtotp": `auth_type: hwtotp` (the keystoneauth plugin asks the token itself); default "v3multifactor". */
  authType?: "v3multifactor" | "hwtotp";
  /** auth.hwtotp_slot (the plugin's slot; absent = the token's only slot). Only with authType "hwtotp". */
  slot?: string;
}

const AUTH_KEYS: [keyof MfaCloudFields, string][] = [
  ["authUrl", "auth_url"],
  ["username", "username"],
  ["userId", "user_id"],
  ["password", "password"],
  ["userDomainName", "user_domain_name"],
  ["projectName", "project_name"],
  ["projectId", "project_id"],
  ["projectDomainName", "project_domain_name"],
];

/**
 * Returns `text` (a clouds.yaml, or null for a new file) with cloud `name` set to password+TOTP
 * (`auth_type: v3multifactor`, `auth_methods: [v3password, v3totp]`, or `auth_type: hwtotp` with
 * fields.authType "hwtotp") and the given fields. Everything else —
 * other clouds, other keys of this cloud, comments, key order — is kept.
 */
export function upsertMfaCloud(text: string | null, name: string, fields: MfaCloudFields, from?: string): string {
  const full = editedDocument(text, name, fields, from);
  return spliceEntry(text, name, full) ?? full;
}

/** The whole document with the entry set, re-serialised (comments kept, spacing normalised). */
function editedDocument(text: string | null, name: string, fields: MfaCloudFields, from?: string): string {
  const doc: Document = parseDocument(text ?? "");
  const indent = text ? (cloudsKeyColumn(doc, text) ?? 2) : 2;
  if (doc.errors.length > 0) throw new Error(`clouds.yaml does not parse: ${doc.errors[0].message}`);
  if (doc.contents === null || !isMap(doc.contents)) {
    if (doc.contents !== null && !isMap(doc.contents)) throw new Error("clouds.yaml: the top level is not a mapping.");
    doc.contents = doc.createNode({}) as never;
  }
  if (!doc.hasIn(["clouds"]) || !isMap(doc.getIn(["clouds"]))) {
    if (doc.hasIn(["clouds"])) throw new Error("clouds.yaml: `clouds` is not a mapping.");
    doc.setIn(["clouds"], doc.createNode({}));
  }
  if (!doc.hasIn(["clouds", name])) {
    if (from !== undefined) {
      if (!doc.hasIn(["clouds", from])) throw new Error(`No cloud named "${from}" to copy from.`);
      const src = asObj(doc.getIn(["clouds", from]) && (doc.getIn(["clouds", from]) as { toJSON(): unknown }).toJSON());
      doc.setIn(["clouds", name], doc.createNode(src));
    } else {
      doc.setIn(["clouds", name], doc.createNode({}));
    }
  }
  const base = ["clouds", name];
  if (!isMap(doc.getIn(base))) throw new Error(`clouds.yaml: cloud "${name}" is not a mapping.`);
  const plugin = fields.authType === "hwtotp";
  doc.setIn([...base, "auth_type"], plugin ? "hwtotp" : "v3multifactor");
  if (!doc.hasIn([...base, "auth"]) || !isMap(doc.getIn([...base, "auth"]))) doc.setIn([...base, "auth"], doc.createNode({}));
  if (plugin) {
    // The plugin takes the password options itself; auth_methods would be an unknown option to it.
    if (doc.hasIn([...base, "auth", "auth_methods"])) doc.deleteIn([...base, "auth", "auth_methods"]);
    if (fields.slot !== undefined) doc.setIn([...base, "auth", "hwtotp_slot"], fields.slot);
  } else {
    doc.setIn([...base, "auth", "auth_methods"], doc.createNode(["v3password", "v3totp"], { flow: true }));
    if (doc.hasIn([...base, "auth", "hwtotp_slot"])) doc.deleteIn([...base, "auth", "hwtotp_slot"]);
  }
  for (const [k, key] of AUTH_KEYS) {
    if (fields[k] !== undefined) doc.setIn([...base, "auth", key], fields[k]);
  }
  // A passcode stored in the file would be stale within 30 s; Keystone's CLI reads it from OS_PASSCODE.
  if (doc.hasIn([...base, "auth", "passcode"])) doc.deleteIn([...base, "auth", "passcode"]);
  if (fields.regionName !== undefined) doc.setIn([...base, "region_name"], fields.regionName);
  if (!doc.hasIn([...base, "identity_api_version"])) doc.setIn([...base, "identity_api_version"], 3);
  const entry = parseCloudEntry(name, "clouds.yaml", asObj((doc.getIn(base) as { toJSON(): unknown }).toJSON()));
  if (!entry.username && !entry.userId) throw new Error(`Cloud "${name}" needs a username (or user id).`);
  return doc.toString({ indent });
}

/** Column of the first entry under `clouds` in block style, or null. */
function cloudsKeyColumn(doc: Document, text: string): number | null {
  const clouds = doc.get("clouds", true);
  if (!isMap(clouds) || clouds.flow || clouds.items.length === 0) return null;
  const k = clouds.items[0].key as { range?: [number, number, number] } | null;
  if (!k?.range) return null;
  const col = k.range[0] - (text.lastIndexOf("\n", k.range[0] - 1) + 1);
  return col > 0 ? col : null;
}

function entryRange(doc: Document, name: string): [number, number] | null {
  const clouds = doc.get("clouds", true);
  if (!isMap(clouds)) return null;
  for (const p of clouds.items) {
    const k = p.key as { value?: unknown; range?: [number, number, number] } | null;
    const v = p.value as { range?: [number, number, number] } | null;
    if (k && (k.value === name || String(k.value) === name) && k.range && v?.range) return [k.range[0], v.range[1]];
  }
  return null;
}

/**
 * Byte-exact edit: only the entry's own text changes, the rest of the original file (other entries,
 * comments, spacing, quoting) is copied as it was. Null when the file's shape needs the whole re-serialisation.
 */
function spliceEntry(text: string | null, name: string, full: string): string | null {
  if (!text) return null;
  const before = parseDocument(text);
  const col = cloudsKeyColumn(before, text);
  const after = parseDocument(full);
  const fresh = entryRange(after, name);
  if (col === null || !fresh) return null;
  let entry = full.slice(fresh[0], fresh[1]);
  if (!entry.endsWith("\n")) entry += "\n";
  const old = entryRange(before, name);
  let out: string;
  if (old) {
    out = text.slice(0, old[0]) + entry + text.slice(old[1]);
  } else {
    const clouds = before.get("clouds", true) as { range?: [number, number, number] };
    const at = clouds.range![1];
    const pre = at > 0 && text.charAt(at - 1) !== "\n" ? "\n" : "";
    out = text.slice(0, at) + pre + " ".repeat(col) + entry + text.slice(at);
  }
  const check = parseDocument(out);
  if (check.errors.length > 0 || JSON.stringify(check.toJS()) !== JSON.stringify(after.toJS())) return null;
  return out;
}

export interface WriteResult {
  file: string;
  created: boolean;
  /** The file was readable by group/others and now is 0600 (it holds a password). */
  tightened: boolean;
}

/** Writes the cloud entry into `file` atomically, mode 0600 (a clouds.yaml holds passwords). */
export function writeMfaCloud(file: string, name: string, fields: MfaCloudFields, from?: string): WriteResult {
  const exists = existsSync(file);
  const text = exists ? readFileSync(file, "utf8") : null;
  const out = upsertMfaCloud(text, name, fields, from);
  let tightened = false;
  const st = exists ? lstatSync(file) : null;
  if (st && st.isFile() && (st.mode & 0o077) !== 0) {
    chmodSync(file, 0o600);
    tightened = true;
  }
  if (!exists) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writePrivateFile(file, out);
  return { file, created: !exists, tightened };
}
