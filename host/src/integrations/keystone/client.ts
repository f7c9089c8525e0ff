// Keystone Identity API v3 client (fetch): tokens with password+TOTP in one request or through an auth
// receipt, TOTP credentials, user MFA options. Follows the Identity API v3 reference (auth, credentials, users).
// Secrets (password, passcode, credential blob, token) never enter an error message.

export type UserRef = { id: string } | { name: string; domainId?: string; domainName?: string };

export type ProjectScope = { id: string } | { name: string; domainId?: string; domainName?: string };

export interface TokenRequest {
  user: UserRef;
  password?: string;
  /** 6-digit TOTP code, as a string (Keystone compares the string). */
  passcode?: string;
  /** Scope; none gives an unscoped token. */
  project?: ProjectScope;
  /** A receipt from an earlier 401 (two-step MFA). */
  receipt?: string;
}

export interface IssuedToken {
  token: string;
  /** Unix milliseconds. */
  expiresAt: number;
  issuedAt: number;
  methods: string[];
  user: { id: string; name: string; domainId?: string };
  project?: { id: string; name: string; domainId?: string };
}

/** Base of this module's errors: `status` is the HTTP status (0 when the server could not be reached). */
export class KeystoneError extends Error {
  readonly status: number;
  readonly unreachable: boolean;
  constructor(message: string, status: number) {
    super(message);
    this.name = "KeystoneError";
    this.status = status;
    this.unreachable = status === 0;
  }
}

/**
 * 401 on POST /v3/auth/tokens. When the methods given satisfied part of an MFA rule, Keystone returns a
 * receipt and the rules still to satisfy (`requiredAuthMethods`).
 */
export class KeystoneAuthError extends KeystoneError {
  readonly receipt: string | null;
  readonly requiredAuthMethods: string[][];
  constructor(message: string, receipt: string | null, required: string[][]) {
    super(message, 401);
    this.name = "KeystoneAuthError";
    this.receipt = receipt;
    this.requiredAuthMethods = required;
  }
  /** True when Keystone asked for more factors (an MFA rule applies), rather than refusing the credentials. */
  get needsMoreFactors(): boolean {
    return this.receipt !== null;
  }
}

export interface KeystoneClientOptions {
  /** Identity endpoint, e.g. http://127.0.0.1:5000/v3 (a trailing /v3 is added when missing). */
  authUrl: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface Credential {
  id: string;
  type: string;
  userId: string;
  projectId: string | null;
}

export interface UserInfo {
  id: string;
  name: string;
  domainId: string;
  enabled: boolean;
  options: { [k: string]: unknown };
}

export interface MfaOptions {
  rules: string[][];
  enabled: boolean;
}

/** Normalises an auth URL to its /v3 base, without a trailing slash. */
export function identityBase(authUrl: string): string {
  let u = authUrl.trim().replace(/\/+$/, "");
  if (!/\/v3$/.test(u)) u += "/v3";
  return u;
}

function userBody(u: UserRef, extra: { [k: string]: unknown }): { [k: string]: unknown } {
  if ("id" in u) return { id: u.id, ...extra };
  const domain = u.domainId !== undefined ? { id: u.domainId } : { name: u.domainName ?? "Default" };
  return { name: u.name, domain, ...extra };
}

function scopeBody(p: ProjectScope): { [k: string]: unknown } {
  if ("id" in p) return { project: { id: p.id } };
  const domain = p.domainId !== undefined ? { id: p.domainId } : { name: p.domainName ?? "Default" };
  return { project: { name: p.name, domain } };
}

/** Builds the JSON body of POST /v3/auth/tokens. Exported for tests; the result holds secrets. */
export function buildTokenRequest(req: TokenRequest): { auth: { [k: string]: unknown } } {
  const methods: string[] = [];
  const identity: { [k: string]: unknown } = { methods };
  if (req.password !== undefined) {
    methods.push("password");
    identity.password = { user: userBody(req.user, { password: req.password }) };
  }
  if (req.passcode !== undefined) {
    if (!/^[0-9]{6}$/.test(req.passcode)) throw new RangeError("passcode must be a string of 6 digits");
    methods.push("totp");
    identity.totp = { user: userBody(req.user, { passcode: req.passcode }) };
  }
  if (methods.length === 0) throw new TypeError("a token request needs a password or a passcode");
  const auth: { [k: string]: unknown } = { identity };
  if (req.project) auth.scope = scopeBody(req.project);
  return { auth };
}

function parseRequired(x: unknown): string[][] {
  if (!Array.isArray(x)) return [];
  return x.filter((r): r is unknown[] => Array.isArray(r)).map((r) => r.filter((m): m is string => typeof m === "string"));
}

function errorSentence(body: unknown, fallback: string): string {
  if (body && typeof body === "object" && "error" in body) {
    const e = (body as { error?: { message?: unknown } }).error;
    if (e && typeof e.message === "string") return e.message;
  }
  return fallback;
}

export class KeystoneClient {
  readonly base: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: KeystoneClientOptions) {
    this.base = identityBase(opts.authUrl);
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  private async request(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: { [k: string]: string } } = {},
  ): Promise<{ status: number; headers: Headers; body: unknown }> {
    const headers: { [k: string]: string } = { Accept: "application/json", ...(opts.headers ?? {}) };
    if (opts.token !== undefined) headers["X-Auth-Token"] = opts.token;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + path, {
        method,
        headers,
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const why = err instanceof Error && err.name === "TimeoutError" ? "timed out" : "failed";
      const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
      throw new KeystoneError(
        `Keystone at ${this.base} could not be reached: ${method} ${path.split("?")[0] || this.base} ${why}${cause}.`,
        0,
      );
    }
    const text = await res.text();
    let body: unknown = null;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
    }
    return { status: res.status, headers: res.headers, body };
  }

  private fail(method: string, path: string, r: { status: number; body: unknown }): never {
    const what = `${method} ${path.split("?")[0]}`;
    throw new KeystoneError(`Keystone refused ${what}: ${errorSentence(r.body, "HTTP " + r.status)} (HTTP ${r.status}).`, r.status);
  }

  /** GET /v3 without a token or a secret: Keystone's version document (is this URL an Identity v3 endpoint?). */
  async version(): Promise<{ id: string; status: string }> {
    const r = await this.request("GET", "");
    const v = (r.body as { version?: { id?: unknown; status?: unknown } } | null)?.version;
    if (r.status !== 200 || !v || typeof v.id !== "string") {
      throw new KeystoneError(
        `${this.base} answered GET with HTTP ${r.status}${v ? "" : " and no version document"}: not a Keystone v3 endpoint.`,
        r.status,
      );
    }
    return { id: v.id, status: typeof v.status === "string" ? v.status : "" };
  }

  /** POST /v3/auth/tokens. Throws KeystoneAuthError on 401 (with the receipt, when Keystone sent one). */
  async issueToken(req: TokenRequest): Promise<IssuedToken> {
    const headers: { [k: string]: string } = {};
    if (req.receipt !== undefined) headers["Openstack-Auth-Receipt"] = req.receipt;
    const r = await this.request("POST", "/auth/tokens?nocatalog", { body: buildTokenRequest(req), headers });
    if (r.status === 401) {
      const receipt = r.headers.get("openstack-auth-receipt");
      const body = (r.body ?? {}) as { required_auth_methods?: unknown };
      const required = parseRequired(body.required_auth_methods);
      const msg = receipt
        ? `Keystone wants more factors: ${errorSentence(r.body, "Not all required auth rules were satisfied")}`
        : `Keystone refused the credentials: ${errorSentence(r.body, "authentication required")}`;
      throw new KeystoneAuthError(msg, receipt, required);
    }
    if (r.status !== 201 && r.status !== 200) this.fail("POST", "/auth/tokens", r);
    const token = r.headers.get("x-subject-token");
    const t = (r.body as { token?: Record<string, any> } | null)?.token;
    if (!token || !t) throw new KeystoneError("Keystone issued no token (X-Subject-Token missing).", r.status);
    const out: IssuedToken = {
      token,
      expiresAt: Date.parse(t.expires_at),
      issuedAt: Date.parse(t.issued_at),
      methods: Array.isArray(t.methods) ? t.methods : [],
      user: { id: t.user?.id, name: t.user?.name, domainId: t.user?.domain?.id },
    };
    if (t.project) out.project = { id: t.project.id, name: t.project.name, domainId: t.project.domain?.id };
    return out;
  }

  /**
   * Password + TOTP. One request first; when the server answers with a receipt instead (some deployments
   * evaluate the factors separately), completes the two-step flow with that receipt.
   */
  async issueMfaToken(req: { user: UserRef; password: string; passcode: string; project?: ProjectScope }): Promise<IssuedToken> {
    try {
      return await this.issueToken(req);
    } catch (err) {
      if (!(err instanceof KeystoneAuthError) || !err.receipt) throw err;
      return this.issueToken({ user: req.user, passcode: req.passcode, project: req.project, receipt: err.receipt });
    }
  }

  /**
   * Tries a password-only login. Returns "refused-mfa" when Keystone demands more factors (the MFA rule is
   * in force), "refused" for another 401, and "accepted" when password alone still gets a token.
   */
  async probePasswordOnly(
    user: UserRef,
    password: string,
    project?: ProjectScope,
  ): Promise<{
    outcome: "accepted" | "refused-mfa" | "refused";
    requiredAuthMethods: string[][];
  }> {
    try {
      const t = await this.issueToken({ user, password, project });
      await this.revokeToken(t.token, t.token).catch(() => undefined);
      return { outcome: "accepted", requiredAuthMethods: [] };
    } catch (err) {
      if (!(err instanceof KeystoneAuthError)) throw err;
      return { outcome: err.receipt ? "refused-mfa" : "refused", requiredAuthMethods: err.requiredAuthMethods };
    }
  }

  /** DELETE /v3/auth/tokens: revokes `subject` using `token`. */
  async revokeToken(token: string, subject: string): Promise<void> {
    const r = await this.request("DELETE", "/auth/tokens", { token, headers: { "X-Subject-Token": subject } });
    if (r.status !== 204 && r.status !== 404) this.fail("DELETE", "/auth/tokens", r);
  }

  /** POST /v3/credentials with type "totp"; the blob is the base32 secret itself. */
  async createTotpCredential(token: string, c: { userId: string; projectId?: string; secretBase32: string }): Promise<Credential> {
    const credential: { [k: string]: unknown } = { type: "totp", user_id: c.userId, blob: c.secretBase32 };
    if (c.projectId) credential.project_id = c.projectId;
    const r = await this.request("POST", "/credentials", { token, body: { credential } });
    if (r.status !== 201) this.fail("POST", "/credentials", r);
    const x = (r.body as { credential: Record<string, any> }).credential;
    return { id: x.id, type: x.type, userId: x.user_id, projectId: x.project_id ?? null };
  }

  async deleteCredential(token: string, id: string): Promise<void> {
    const r = await this.request("DELETE", "/credentials/" + encodeURIComponent(id), { token });
    if (r.status !== 204 && r.status !== 404) this.fail("DELETE", "/credentials/{id}", r);
  }

  /** GET /v3/credentials?user_id=…&type=totp (ids and owners only: blobs are never read). */
  async listTotpCredentials(token: string, userId: string): Promise<Credential[]> {
    const q = "?type=totp&user_id=" + encodeURIComponent(userId);
    const r = await this.request("GET", "/credentials" + q, { token });
    if (r.status !== 200) this.fail("GET", "/credentials", r);
    const list = (r.body as { credentials?: Record<string, any>[] }).credentials ?? [];
    return list.map((x) => ({ id: x.id, type: x.type, userId: x.user_id, projectId: x.project_id ?? null }));
  }

  async getUser(token: string, userId: string): Promise<UserInfo> {
    const r = await this.request("GET", "/users/" + encodeURIComponent(userId), { token });
    if (r.status !== 200) this.fail("GET", "/users/{id}", r);
    const u = (r.body as { user: Record<string, any> }).user;
    return { id: u.id, name: u.name, domainId: u.domain_id, enabled: u.enabled !== false, options: u.options ?? {} };
  }

  /** GET /v3/users?name=… in a domain (default: "default"). */
  async findUser(token: string, name: string, domainId = "default"): Promise<UserInfo | null> {
    const q = "?name=" + encodeURIComponent(name) + "&domain_id=" + encodeURIComponent(domainId);
    const r = await this.request("GET", "/users" + q, { token });
    if (r.status !== 200) this.fail("GET", "/users", r);
    const u = ((r.body as { users?: Record<string, any>[] }).users ?? [])[0];
    return u ? { id: u.id, name: u.name, domainId: u.domain_id, enabled: u.enabled !== false, options: u.options ?? {} } : null;
  }

  /** GET /v3/projects?name=… ; with a project-scoped token a user may lack the right, so callers fall back. */
  async findProject(token: string, name: string, domainId?: string): Promise<{ id: string; name: string } | null> {
    let q = "?name=" + encodeURIComponent(name);
    if (domainId) q += "&domain_id=" + encodeURIComponent(domainId);
    const r = await this.request("GET", "/projects" + q, { token });
    if (r.status !== 200) this.fail("GET", "/projects", r);
    const p = ((r.body as { projects?: Record<string, any>[] }).projects ?? [])[0];
    return p ? { id: p.id, name: p.name } : null;
  }

  /** PATCH /v3/users/{id} options: the MFA rules and the enable flag. Returns the options now stored. */
  async setMfaOptions(token: string, userId: string, mfa: MfaOptions): Promise<MfaOptions> {
    const body = { user: { options: { multi_factor_auth_rules: mfa.rules, multi_factor_auth_enabled: mfa.enabled } } };
    const r = await this.request("PATCH", "/users/" + encodeURIComponent(userId), { token, body });
    if (r.status !== 200) this.fail("PATCH", "/users/{id}", r);
    const o = (r.body as { user: { options?: Record<string, unknown> } }).user.options ?? {};
    return readMfaOptions(o);
  }
}

/** The MFA part of a user's options (absent options read as no rules, disabled). */
export function readMfaOptions(options: { [k: string]: unknown }): MfaOptions {
  return {
    rules: parseRequired(options.multi_factor_auth_rules),
    enabled: options.multi_factor_auth_enabled === true,
  };
}

/** True when `rules` holds a rule made of exactly these methods (order-insensitive). */
export function hasRule(rules: string[][], methods: string[]): boolean {
  const want = [...methods].sort().join(",");
  return rules.some((r) => [...r].sort().join(",") === want);
}
