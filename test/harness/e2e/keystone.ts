// A private OpenStack Keystone (Debian 12's Zed) on 127.0.0.1 for end-to-end tests: SQLite in WAL mode,
// fernet tokens and receipts, `totp` in [auth] methods, served by uwsgi in its own session, stopped by its pid.
// See docs/facts/keystone.md for why each setting is there.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const KEYSTONE_PACKAGES = ["keystone", "python3-openstackclient", "oathtool", "uwsgi", "uwsgi-plugin-python3"];

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** Installs the Debian packages when missing (scripts/apt-install.sh). Returns the seconds it took. */
export function ensureKeystonePackages(): number {
  const t0 = Date.now();
  const r = spawnSync("bash", [join(ROOT, "scripts/apt-install.sh"), ...KEYSTONE_PACKAGES], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`Installing ${KEYSTONE_PACKAGES.join(" ")} failed (exit ${r.status}).`);
  return (Date.now() - t0) / 1000;
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => ok(port));
    });
  });
}

export interface KeystoneUser {
  id: string;
  name: string;
  password: string;
  projectId: string;
  projectName: string;
}

export interface Keystone {
  url: string; // http://127.0.0.1:PORT/v3
  port: number;
  dir: string;
  pid: number;
  admin: { name: "admin"; password: string; projectName: "admin" };
  /** Seconds: keystone-manage steps (parallel), and uwsgi start until /v3 answers. */
  timings: { setup: number; serve: number; setupPath: "one-process" | "keystone-manage" };
  /** An admin token (project admin), fetched on demand and reused. */
  adminToken(): Promise<string>;
  /** Creates a project (if missing) and a member user with a random password. */
  createUser(name: string, projectName: string): Promise<KeystoneUser>;
  /** Every log this server wrote (keystone + uwsgi), for "no secret in any log" checks. */
  logs(): string;
  stop(): Promise<void>;
}

const CONF = (dir: string) => `[DEFAULT]
log_file = ${dir}/keystone.log
use_stderr = false
debug = false
[database]
connection = sqlite:///${dir}/keystone.db
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = ${dir}/fernet-keys
[fernet_receipts]
key_repository = ${dir}/fernet-receipts
[credential]
key_repository = ${dir}/credential-keys
[auth]
methods = password,token,totp,application_credential
[totp]
included_previous_windows = 1
[identity]
password_hash_rounds = 4
[cache]
enabled = true
backend = dogpile.cache.memory_pickle
[oslo_policy]
enforce_scope = false
`;

// WAL before first use, or concurrent writes get "database is locked" (HTTP 500).
const WAL = "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL')";

// keystone-manage's steps in one interpreter: argv = conf, db, then one JSON argument list per step.
const MANAGE_ALL = `
import sys, json, sqlite3
sqlite3.connect(sys.argv[2]).execute('PRAGMA journal_mode=WAL')
from keystone.cmd import cli
for step in sys.argv[3:]:
    try:
        cli.main(argv=['keystone-manage', '--config-file', sys.argv[1]] + json.loads(step))
    finally:
        cli.CONF.reset()
        cli.CONF.unregister_opt(cli.command_opt)
`;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    p.on("error", fail);
    p.on("exit", (code) => {
      if (code === 0) ok();
      else fail(new Error(`${cmd} ${args.filter((a) => !a.startsWith("/")).join(" ")} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

// A started server is registered here so that an exiting test process never leaves it behind.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) killGroup(p.pid!, "SIGKILL");
});

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig); // the server's own session: its pid is the group id
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

async function waitReady(url: string, proc: ChildProcess, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`uwsgi exited with ${proc.exitCode} before Keystone answered.`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Keystone did not answer on ${url} within ${limitMs} ms.`);
}

/** Starts a fresh Keystone in a temporary directory. Call stop() in afterAll (it also removes the directory). */
export async function startKeystone(): Promise<Keystone> {
  const dir = mkdtempSync(join(tmpdir(), "hwtotp-keystone-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/v3`;
  const adminPassword = randomBytes(12).toString("base64url");
  const conf = join(dir, "keystone.conf");
  writeFileSync(conf, CONF(dir), { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONWARNINGS: "ignore" };
  delete env.OS_CLOUD;
  const t0 = Date.now();
  const owner = ["--keystone-user", String(process.getuid?.() ?? 0), "--keystone-group", String(process.getgid?.() ?? 0)];
  const bootstrap = [
    "bootstrap",
    "--bootstrap-admin-url",
    url + "/",
    "--bootstrap-internal-url",
    url + "/",
    "--bootstrap-public-url",
    url + "/",
    "--bootstrap-region-id",
    "RegionOne",
  ];
  const steps = [["db_sync"], ["fernet_setup", ...owner], ["credential_setup", ...owner], bootstrap];
  const bootEnv = { ...env, OS_BOOTSTRAP_PASSWORD: adminPassword }; // never on argv
  let setupPath: "one-process" | "keystone-manage" = "one-process";
  try {
    // One Python process for every keystone-manage step: the imports cost 2-3 s each, so this is ~4x faster.
    await run("/usr/bin/python3", ["-c", MANAGE_ALL, conf, join(dir, "keystone.db"), ...steps.map((a) => JSON.stringify(a))], bootEnv);
  } catch {
    setupPath = "keystone-manage";
    await run("/usr/bin/python3", ["-c", WAL, join(dir, "keystone.db")], env);
    const km = (args: string[]) => run("keystone-manage", ["--config-file", conf, ...args], bootEnv);
    await Promise.all([km(steps[0]).then(() => km(steps[3])), km(steps[1]), km(steps[2])]);
  }
  const setup = (Date.now() - t0) / 1000;

  const t1 = Date.now();
  const proc = spawn(
    "uwsgi",
    [
      "--plugin",
      "python3",
      "--http-socket",
      `127.0.0.1:${port}`,
      "--wsgi-file",
      "/usr/bin/keystone-wsgi-public",
      "--add-header",
      "Connection: close",
      "--master",
      "--processes",
      "1",
      "--threads",
      "8",
      "--die-on-term",
      "--logto",
      join(dir, "uwsgi.log"),
    ],
    { env: { ...env, OS_KEYSTONE_CONFIG_DIR: dir }, detached: true, stdio: "ignore" },
  );
  live.add(proc);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      killGroup(proc.pid!, "SIGTERM");
      const t = setTimeout(() => killGroup(proc.pid!, "SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
    live.delete(proc);
    if (!process.env.HWTOTP_KEEP_KEYSTONE) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, proc, 60000);
  } catch (err) {
    const log = existsSync(join(dir, "uwsgi.log")) ? readFileSync(join(dir, "uwsgi.log"), "utf8").slice(-2000) : "";
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  const serve = (Date.now() - t1) / 1000;

  let token: string | null = null;
  const adminToken = async () => {
    if (token) return token;
    const r = await fetch(url + "/auth/tokens?nocatalog", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        auth: {
          identity: { methods: ["password"], password: { user: { name: "admin", domain: { id: "default" }, password: adminPassword } } },
          scope: { project: { name: "admin", domain: { id: "default" } } },
        },
      }),
    });
    if (r.status !== 201) throw new Error(`admin token: HTTP ${r.status}`);
    token = r.headers.get("x-subject-token")!;
    return token;
  };
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, {
      method,
      headers: { "X-Auth-Token": await adminToken(), "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  };
  const createUser = async (name: string, projectName: string): Promise<KeystoneUser> => {
    const found = await api("GET", `/projects?name=${encodeURIComponent(projectName)}`);
    const project = found.projects[0] ?? (await api("POST", "/projects", { project: { name: projectName, domain_id: "default" } })).project;
    const password = randomBytes(12).toString("base64url");
    const user = (await api("POST", "/users", { user: { name, password, domain_id: "default", default_project_id: project.id } })).user;
    const role = (await api("GET", "/roles?name=member")).roles[0];
    await api("PUT", `/projects/${project.id}/users/${user.id}/roles/${role.id}`);
    return { id: user.id, name, password, projectId: project.id, projectName };
  };
  const logs = () =>
    ["keystone.log", "uwsgi.log"]
      .map((f) => join(dir, f))
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f, "utf8"))
      .join("\n");

  return {
    url,
    port,
    dir,
    pid: proc.pid!,
    admin: { name: "admin", password: adminPassword, projectName: "admin" },
    timings: { setup, serve, setupPath },
    adminToken,
    createUser,
    logs,
    stop,
  };
}
