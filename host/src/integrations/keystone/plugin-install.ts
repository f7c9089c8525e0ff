// `hwtotp keystone plugin install|uninstall|status`: puts the keystoneauth1 plugin (./python/hwtotp_keystoneauth)
// where a Python finds it without pip or PyPI — the package folder plus a PEP 376/627 .dist-info whose
// entry_points.txt names it under `keystoneauth1.plugin` (how keystoneauth1/stevedore find auth plugins).
// --user: that Python's user site-packages (site.getusersitepackages()); --system: its /usr/local site-packages.

import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findPackageRoot } from "../../paths.ts";

export const PLUGIN_PACKAGE = "hwtotp_keystoneauth";
export const PLUGIN_DIST = "hwtotp_keystoneauth";
export const ENTRY_POINTS = "[keystoneauth1.plugin]\nhwtotp = hwtotp_keystoneauth.loader:HwtotpLoader\n";
/** Debian's interpreter, the one /usr/bin/openstack runs on (a `python3` on PATH may be another one). */
export const DEFAULT_PYTHON = "/usr/bin/python3";

export class PluginInstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PluginInstallError";
  }
}

/** The hwtotp package root (where package.json says "name": "hwtotp"), from this module, bundled or not. */
export function packageRoot(from = fileURLToPath(import.meta.url)): string {
  const root = findPackageRoot(from);
  if (root === null) throw new PluginInstallError("Cannot find the hwtotp package (its package.json) above " + from + ".");
  return root;
}

export function pluginSource(root = packageRoot()): string {
  return join(root, "host/src/integrations/keystone/python", PLUGIN_PACKAGE);
}

export interface PythonInfo {
  python: string;
  version: string;
  userSite: string;
  userSiteEnabled: boolean;
  sitePackages: string[];
  sysPath: string[];
  /** keystoneauth1's version, or null when this Python cannot import it. */
  keystoneauth: string | null;
}

const PROBE = `
import json, site, sys
try:
    import keystoneauth1
    try:
        from importlib.metadata import version
        ka = version('keystoneauth1')
    except Exception:
        ka = getattr(keystoneauth1, '__version__', 'unknown')
except Exception:
    ka = None
print(json.dumps({'version': sys.version.split()[0], 'userSite': site.getusersitepackages(),
                  'userSiteEnabled': bool(site.ENABLE_USER_SITE), 'sitePackages': site.getsitepackages(),
                  'sysPath': sys.path, 'keystoneauth': ka}))
`;

function runPython(
  python: string,
  code: string,
  env: NodeJS.ProcessEnv,
): { status: number | null; stdout: string; stderr: string; error?: Error } {
  const r = spawnSync(python, ["-c", code], { env, encoding: "utf8", timeout: 60000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}

export function probePython(python: string, env: NodeJS.ProcessEnv = process.env): PythonInfo {
  const r = runPython(python, PROBE, env);
  if (r.error) throw new PluginInstallError(`Cannot run ${python}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}.`);
  if (r.status !== 0) throw new PluginInstallError(`${python} failed: ${r.stderr.trim().split("\n").pop()}`);
  return { python, ...(JSON.parse(r.stdout) as Omit<PythonInfo, "python">) };
}

/** Where --user or --system installs for this Python. */
export function targetDir(info: PythonInfo, scope: "user" | "system"): string {
  if (scope === "user") {
    if (!info.userSiteEnabled) {
      throw new PluginInstallError(
        `${info.python} has its user site-packages turned off (PYTHONNOUSERSITE, or another effective uid): use --system.`,
      );
    }
    return info.userSite;
  }
  // Debian: /usr/local/lib/python3.X/dist-packages (first in site.getsitepackages(); /usr/lib/python3 is dpkg's).
  const local = info.sitePackages.find((p) => p.startsWith("/usr/local/"));
  const dir = local ?? info.sitePackages[0];
  if (!dir) throw new PluginInstallError(`${info.python} names no site-packages folder.`);
  return dir;
}

export interface InstallResult {
  action: "install" | "uninstall";
  scope: "user" | "system";
  python: string;
  pythonVersion: string;
  keystoneauth: string | null;
  dir: string;
  files: string[];
  /** keystoneauth1 loads `hwtotp` from this folder (checked by the same Python). */
  verified: boolean;
  /** Folder the loader came from, when verified (another copy could shadow ours). */
  loadedFrom: string | null;
}

function sha256Record(data: Buffer): string {
  return "sha256=" + createHash("sha256").update(data).digest("base64url");
}

function ourDistInfos(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.startsWith(PLUGIN_DIST + "-") && f.endsWith(".dist-info"));
}

/** Removes our package folder and .dist-info(s) from `dir`; returns what was removed. */
function removeFrom(dir: string): string[] {
  const gone: string[] = [];
  for (const d of ourDistInfos(dir)) {
    rmSync(join(dir, d), { recursive: true, force: true });
    gone.push(join(dir, d));
  }
  const pkg = join(dir, PLUGIN_PACKAGE);
  if (existsSync(pkg)) {
    rmSync(pkg, { recursive: true, force: true });
    gone.push(pkg);
  }
  return gone;
}

const VERIFY = `
import os, sys
from keystoneauth1 import loading
l = loading.get_plugin_loader('hwtotp')
print(os.path.dirname(os.path.dirname(os.path.abspath(sys.modules[type(l).__module__].__file__))))
`;

function verifyLoad(python: string, env: NodeJS.ProcessEnv): string | null {
  const r = runPython(python, VERIFY, env);
  return r.status === 0 ? r.stdout.trim() : null;
}

export interface InstallOptions {
  scope: "user" | "system";
  python?: string;
  /** The hwtotp command the plugin runs when no daemon answers (default: this node + host/bin/hwtotp.js). */
  hwtotp?: string[];
  env?: NodeJS.ProcessEnv;
  root?: string;
}

/** Installs (or replaces) the plugin; returns where, and whether keystoneauth1 now finds it there. */
export function installPlugin(o: InstallOptions): InstallResult {
  const env = o.env ?? process.env;
  const python = o.python ?? (existsSync(DEFAULT_PYTHON) ? DEFAULT_PYTHON : "python3");
  const info = probePython(python, env);
  if (info.keystoneauth === null) {
    throw new PluginInstallError(
      `${python} cannot import keystoneauth1: install Debian's python3-openstackclient (as root: scripts/apt-install.sh python3-openstackclient), or name another interpreter with --python.`,
    );
  }
  const dir = targetDir(info, o.scope);
  const root = o.root ?? packageRoot();
  const src = pluginSource(root);
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version as string;
  const hwtotp = o.hwtotp ?? [process.execPath, join(root, "host/bin/hwtotp.js")];
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new PluginInstallError(
      `Cannot create ${dir}: ${(err as NodeJS.ErrnoException).code}${o.scope === "system" ? " (--system needs root)" : ""}.`,
    );
  }
  // Built beside the destination, then renamed into place: a failed install leaves the old one (or none).
  const stage = join(dir, `.${PLUGIN_PACKAGE}.${process.pid}.tmp`);
  rmSync(stage, { recursive: true, force: true });
  const distName = `${PLUGIN_DIST}-${version}.dist-info`;
  const files: { rel: string; data: Buffer }[] = [];
  for (const f of readdirSync(src)
    .filter((f) => f.endsWith(".py"))
    .sort())
    files.push({ rel: `${PLUGIN_PACKAGE}/${f}`, data: readFileSync(join(src, f)) });
  files.push({ rel: `${PLUGIN_PACKAGE}/_installed.json`, data: Buffer.from(JSON.stringify({ hwtotp, version }, null, 1) + "\n") });
  files.push({
    rel: `${distName}/METADATA`,
    data: Buffer.from(
      `Metadata-Version: 2.1\nName: hwtotp-keystoneauth\nVersion: ${version}\nSummary: keystoneauth1 plugin: password, then a TOTP code from the hwtotp token when Keystone asks\nLicense: MIT\n`,
    ),
  });
  files.push({ rel: `${distName}/entry_points.txt`, data: Buffer.from(ENTRY_POINTS) });
  files.push({ rel: `${distName}/top_level.txt`, data: Buffer.from(PLUGIN_PACKAGE + "\n") });
  files.push({ rel: `${distName}/INSTALLER`, data: Buffer.from("hwtotp\n") });
  const record =
    files
      .map((f) => `${f.rel},${sha256Record(f.data)},${f.data.length}`)
      .concat(`${distName}/RECORD,,`)
      .join("\n") + "\n";
  files.push({ rel: `${distName}/RECORD`, data: Buffer.from(record) });
  try {
    for (const f of files) {
      const p = join(stage, f.rel);
      mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
      writeFileSync(p, f.data, { mode: 0o644, flag: "wx" });
    }
    removeFrom(dir);
    renameSync(join(stage, PLUGIN_PACKAGE), join(dir, PLUGIN_PACKAGE));
    renameSync(join(stage, distName), join(dir, distName));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new PluginInstallError(
      `Cannot write into ${dir}: ${e.code ?? e.message}${o.scope === "system" && e.code === "EACCES" ? " (--system needs root)" : ""}.`,
    );
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  const loadedFrom = verifyLoad(python, env);
  return {
    action: "install",
    scope: o.scope,
    python,
    pythonVersion: info.version,
    keystoneauth: info.keystoneauth,
    dir,
    files: files.map((f) => join(dir, f.rel)),
    verified: loadedFrom === dir,
    loadedFrom,
  };
}

/** Removes the plugin from the --user or --system folder. */
export function uninstallPlugin(o: { scope: "user" | "system"; python?: string; env?: NodeJS.ProcessEnv }): InstallResult {
  const env = o.env ?? process.env;
  const python = o.python ?? (existsSync(DEFAULT_PYTHON) ? DEFAULT_PYTHON : "python3");
  const info = probePython(python, env);
  const dir = targetDir(info, o.scope);
  let gone: string[];
  try {
    gone = removeFrom(dir);
  } catch (err) {
    throw new PluginInstallError(`Cannot remove the plugin from ${dir}: ${(err as NodeJS.ErrnoException).code}.`);
  }
  const loadedFrom = info.keystoneauth === null ? null : verifyLoad(python, env);
  return {
    action: "uninstall",
    scope: o.scope,
    python,
    pythonVersion: info.version,
    keystoneauth: info.keystoneauth,
    dir,
    files: gone,
    verified: loadedFrom === null,
    loadedFrom,
  };
}
