// An in-memory stand-in for Keystone's v3 API as a `fetch` function, for fast unit tests of the client,
// enrolment and token cache. It follows the behaviours of docs/facts/keystone.md (current + previous
// step only, receipts, rules ignored when totp is not in [auth] methods). The real server is in test/e2e.

import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import * as OTPAuth from "otpauth";
import type { CloudConfig } from "../../host/src/integrations/keystone/clouds.ts";
import { startEmuSlots } from "./emu-slots.ts";

export interface FakeUser {
  id: string;
  name: string;
  password: string;
  admin: boolean;
  options: Record<string, unknown>;
}

export interface FakeKeystoneOptions {
  /** `totp` in [auth] methods (false reproduces the silent password-only fallback). */
  totpMethod?: boolean;
  now?: () => number;
  /** Make one endpoint fail with HTTP 500: "credentials" | "patch-user". */
  failOn?: string;
  tokenLifeS?: number;
}

const hex32 = () => randomUUID().replace(/-/g, "");

export function fakeKeystone(opts: FakeKeystoneOptions = {}) {
  const now = opts.now ?? Date.now;
  const users = new Map<string, FakeUser>();
  const creds = new Map<string, { id: string; user_id: string; project_id: string | null; blob: string; type: string }>();
  const tokens = new Map<string, { userId: string; projectId?: string; body?: unknown }>();
  const receipts = new Map<string, { userId: string; methods: string[] }>();
  const projects = [{ id: hex32(), name: "demo" }];
  const calls: { method: string; path: string; body: unknown }[] = [];
  let tokenIssues = 0;

  const addUser = (name: string, password: string, admin = false): FakeUser => {
    const u = { id: hex32(), name, password, admin, options: {} };
    users.set(u.id, u);
    return u;
  };

  const totpOk = (userId: string, passcode: unknown): boolean => {
    if (typeof passcode !== "string" || passcode.length !== 6) return false;
    const step = Math.floor(now() / 1000 / 30);
    for (const c of creds.values()) {
      if (c.user_id !== userId || c.type !== "totp") continue;
      // Case-sensitive upper-case base32, as Keystone's decoder.
      if (!/^[A-Z2-7]+=*$/.test(c.blob)) continue;
      const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(c.blob), digits: 6, period: 30 });
      for (const s of [step, step - 1]) if (totp.generate({ timestamp: s * 30000 }) === passcode) return true;
    }
    return false;
  };

  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(body === null ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
  const err = (status: number, message: string) => json(status, { error: { code: status, message, title: "Error" } });

  const findUser = (u: Record<string, any>): FakeUser | undefined =>
    u?.id ? users.get(u.id) : [...users.values()].find((x) => x.name === u?.name);

  const authIssue = (body: any, receiptHeader: string | null): Response => {
    tokenIssues++;
    const id = body?.auth?.identity ?? {};
    const methods: string[] = id.methods ?? [];
    let userId: string | null = null;
    const done: string[] = [];
    if (receiptHeader) {
      const r = receipts.get(receiptHeader);
      if (!r) return err(401, "The request you have made requires authentication.");
      userId = r.userId;
      done.push(...r.methods);
    }
    for (const m of methods) {
      const u = findUser(id[m]?.user);
      if (!u || (userId && u.id !== userId)) return err(401, "The request you have made requires authentication.");
      if (m === "password" && id.password.user.password !== u.password)
        return err(401, "The request you have made requires authentication.");
      // Without totp in [auth] methods Keystone refuses the method itself (and ignores the rules).
      if (m === "totp" && (opts.totpMethod === false || !totpOk(u.id, id.totp.user.passcode))) {
        return err(401, "The request you have made requires authentication.");
      }
      userId = u.id;
      done.push(m);
    }
    const u = users.get(userId!)!;
    const rules = (u.options.multi_factor_auth_rules as string[][] | undefined) ?? [];
    const enforced = u.options.multi_factor_auth_enabled === true && rules.length > 0 && opts.totpMethod !== false;
    if (enforced && !rules.some((r) => r.every((m) => done.includes(m)))) {
      const rid = hex32();
      receipts.set(rid, { userId: u.id, methods: done });
      return json(
        401,
        {
          receipt: { methods: done, user: { id: u.id }, expires_at: new Date(now() + 300000).toISOString() },
          required_auth_methods: rules.map((r) => [...r].reverse()),
          error: { code: 401, message: "Not all required auth rules were satisfied" },
        },
        { "Openstack-Auth-Receipt": rid },
      );
    }
    const tok = "tok-" + hex32();
    const scope = body?.auth?.scope?.project;
    const project = scope ? projects.find((p) => p.id === scope.id || p.name === scope.name) : undefined;
    if (scope && !project) return err(401, "no such project");
    const t0 = now();
    const issued = {
      token: {
        methods: done,
        issued_at: new Date(t0).toISOString(),
        expires_at: new Date(t0 + (opts.tokenLifeS ?? 3600) * 1000).toISOString(),
        user: { id: u.id, name: u.name, domain: { id: "default" } },
        ...(project ? { project: { id: project.id, name: project.name, domain: { id: "default" } } } : {}),
      },
    };
    tokens.set(tok, { userId: u.id, projectId: project?.id, body: issued });
    return json(201, issued, { "X-Subject-Token": tok });
  };

  const fetchImpl = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const method = (init.method ?? "GET").toUpperCase();
    const headers = new Headers(init.headers);
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    const path = url.pathname.replace(/^\/v3/, "");
    calls.push({ method, path, body });
    if (method === "GET" && (path === "" || path === "/"))
      return json(200, { version: { id: "v3.14", status: "stable", links: [{ rel: "self", href: url.origin + "/v3/" }] } });
    if (method === "POST" && path === "/auth/tokens") return authIssue(body, headers.get("Openstack-Auth-Receipt"));
    const who = tokens.get(headers.get("X-Auth-Token") ?? "");
    if (!who) return err(401, "The request you have made requires authentication.");
    const caller = users.get(who.userId)!;
    if (method === "GET" && path === "/auth/tokens") {
      const subject = tokens.get(headers.get("X-Subject-Token") ?? "");
      return subject ? json(200, subject.body) : err(404, "Could not find token.");
    }
    if (method === "DELETE" && path === "/auth/tokens") {
      tokens.delete(headers.get("X-Subject-Token") ?? "");
      return new Response(null, { status: 204 });
    }
    if (path === "/credentials" && method === "POST") {
      if (opts.failOn === "credentials") return err(500, "boom");
      const c = body.credential;
      if (!caller.admin && c.user_id !== caller.id) return err(403, "You are not authorized to perform the requested action.");
      const id = hex32();
      creds.set(id, { id, user_id: c.user_id, project_id: c.project_id ?? null, blob: c.blob, type: c.type });
      return json(201, { credential: { id, user_id: c.user_id, project_id: c.project_id ?? null, type: c.type, blob: c.blob } });
    }
    if (path === "/credentials" && method === "GET") {
      const list = [...creds.values()].filter(
        (c) => c.user_id === url.searchParams.get("user_id") && c.type === url.searchParams.get("type"),
      );
      return json(200, { credentials: list });
    }
    const cm = /^\/credentials\/(\w+)$/.exec(path);
    if (cm && method === "DELETE") {
      creds.delete(cm[1]);
      return new Response(null, { status: 204 });
    }
    const um = /^\/users\/(\w+)$/.exec(path);
    if (um && method === "GET") {
      const u = users.get(um[1]);
      if (!u) return err(404, "Could not find user.");
      if (!caller.admin && u.id !== caller.id) return err(403, "forbidden");
      return json(200, { user: { id: u.id, name: u.name, domain_id: "default", enabled: true, options: u.options } });
    }
    if (um && method === "PATCH") {
      if (opts.failOn === "patch-user") return err(500, "boom");
      if (!caller.admin) return err(403, "You are not authorized to perform the requested action: identity:update_user.");
      const u = users.get(um[1])!;
      u.options = { ...u.options, ...body.user.options };
      return json(200, { user: { id: u.id, name: u.name, domain_id: "default", options: u.options } });
    }
    if (path === "/users" && method === "GET") {
      const list = [...users.values()].filter((u) => u.name === url.searchParams.get("name"));
      return json(200, { users: list.map((u) => ({ id: u.id, name: u.name, domain_id: "default", options: u.options })) });
    }
    if (path === "/projects" && method === "GET") {
      return json(200, { projects: projects.filter((p) => p.name === url.searchParams.get("name")) });
    }
    return err(404, "not found");
  };

  return {
    fetch: fetchImpl as typeof fetch,
    url: "http://keystone.test:5000/v3",
    users,
    creds,
    tokens,
    projects,
    calls,
    addUser,
    get tokenIssues() {
      return tokenIssues;
    },
  };
}

/**
 * The fake served over HTTP on 127.0.0.1 (a port the kernel picks), for clients that cannot take a fetch
 * function: the CLI in a child process, keystoneauth in Python. Links in its replies name the address it was
 * reached at. Close the server when done.
 */
export async function serveKeystone(ks: ReturnType<typeof fakeKeystone>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      const r = await ks.fetch("http://" + (req.headers.host ?? "127.0.0.1") + req.url, {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks).toString() : undefined,
      });
      const out: Record<string, string> = {};
      r.headers.forEach((v, k) => (out[k] = v));
      res.writeHead(r.status, out).end(await r.text());
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v3` };
}

/**
 * An MFA login scene on the fake Keystone: the token is the firmware in the emulator (emu-slots), its clock
 * frozen at 2026-06-01T12:00Z and Keystone's clock the token's; user alice (password alicepw) must log in with
 * password + TOTP, and slot "ks" on the token holds her TOTP credential's seed. `cloud` is her clouds.yaml entry.
 * The caller closes `token` (or calls stopEmuSlots).
 */
export async function mfaLoginScene(o: { tokenLifeS?: number; regionName?: string } = {}) {
  const token = await startEmuSlots({ frozenAt: Date.parse("2026-06-01T12:00:00Z") / 1000 });
  const now = () => token.emu.control.now() * 1000;
  const ks = fakeKeystone({ now, tokenLifeS: o.tokenLifeS });
  const alice = ks.addUser("alice", "alicepw");
  await token.session.add({ name: "ks", key: "3132333435363738393031323334353637383930" });
  ks.creds.set("c", { id: "c", user_id: alice.id, project_id: null, blob: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", type: "totp" });
  alice.options = { multi_factor_auth_rules: [["password", "totp"]], multi_factor_auth_enabled: true };
  const cloud: CloudConfig = {
    name: "mfa",
    file: "clouds.yaml",
    authType: "v3multifactor",
    authMethods: ["v3password", "v3totp"],
    authUrl: ks.url,
    username: "alice",
    password: "alicepw",
    userDomainName: "Default",
    projectName: "demo",
    projectDomainName: "Default",
    ...(o.regionName ? { regionName: o.regionName } : {}),
  };
  const passcode = async () => (await token.session.code("ks")).codes[0].code!;
  return { token, ks, alice, cloud, now, passcode, advance: (s: number) => token.emu.control.advance(s) };
}
