// Keystone TOTP enrolment: seed generated on the host, provisioned into the token, registered as a `totp`
// credential (POST /v3/credentials), MFA rule set and enabled when the caller may (PATCH /v3/users/{id}),
// then verified. Without the user's password (the default, `verify: "totp"`): a TOTP-only login, which
// Keystone answers with a token (no rule yet) or an auth receipt (the rule wants the password too) when the
// code is right, and with a bare 401 when it is not. With it (`verify: "password"`): password+TOTP works and
// password alone no longer does. Any failure after the seed went into the token rolls back (../rollback.ts),
// so the token and Keystone never disagree, or the error names what could not be undone.
// Facts: docs/facts/keystone.md.

import { encodeBase32, generateKey, toHex } from "../../secret.ts";
import type { SlotDevice } from "../device.ts";
import { Rollback, type RollbackReport, leftovers, rollbackSentence, rolledBack } from "../rollback.ts";
import {
  KeystoneAuthError,
  KeystoneError,
  hasRule,
  readMfaOptions,
  type IssuedToken,
  type KeystoneClient,
  type MfaOptions,
  type ProjectScope,
  type UserRef,
} from "./client.ts";

/** Keystone's TOTP is fixed: SHA1, 6 digits, 30 s (facts page). */
export const KEYSTONE_TOTP = { alg: "SHA1" as const, digits: 6, period: 30 };
export const MFA_RULE = ["password", "totp"];
export const SEED_BYTES = 20;

/** RFC 4648 §6 base32, upper case, no padding — the only form Keystone's case-sensitive decoder matches. */
export const keystoneBase32 = encodeBase32;

/** Why Keystone would silently never match this secret, or null: upper-case base32, at least 128 bits. */
export function checkKeystoneSecret(b32: string): string | null {
  if (!/^[A-Z2-7]+$/.test(b32)) return "Keystone decodes TOTP secrets as upper-case base32 without spaces or padding.";
  if (Math.floor((b32.length * 5) / 8) < 16) return "Keystone ignores TOTP secrets under 128 bits.";
  return null;
}

export class EnrollError extends Error {
  /** What is left behind when a rollback step failed, each with its error code (empty when nothing is). */
  readonly leftovers: string[];
  /** E_PARTIAL when a rollback step failed (something is left behind), else E_KEYSTONE. */
  readonly code: string;
  /** What a rollback did and did not undo, when one ran. */
  readonly rollback?: RollbackReport;
  constructor(message: string, rollback?: RollbackReport) {
    const clean = !rollback || rolledBack(rollback);
    super(clean ? message : `${message.replace(/\.$/, "")}; ${rollbackSentence(rollback)}.`);
    this.name = "EnrollError";
    this.leftovers = rollback ? leftovers(rollback) : [];
    this.code = clean ? "E_KEYSTONE" : "E_PARTIAL";
    if (rollback) this.rollback = rollback;
  }
}

export interface EnrollOptions {
  client: KeystoneClient;
  device: SlotDevice;
  /** Who logs in to do the enrolment (the user themself, or an admin enrolling someone). */
  caller: { user: UserRef; password: string; project?: ProjectScope };
  /** User to enrol (id, or name in the caller's domain); default: the caller. */
  targetUser?: string;
  /** The target's password, for `verify: "password"`; default: the caller's when the target is the caller. */
  targetPassword?: string;
  /**
   * "totp" (default): verify with TOTP-only logins, no password needed. "password": password+TOTP must log in
   * and, once the rule is in force, password alone must be refused (needs the target's password).
   */
  verify?: "totp" | "password";
  /** Slot name on the device. */
  slot: string;
  /** Project (id or name) the credential is attached to; default: none. */
  credentialProject?: string;
  /** "auto": set rule+enable when the caller may, else warn; "require": fail (and roll back) if it cannot; "skip". */
  rules: "auto" | "require" | "skip";
  /** Log in and read (user, project, credentials) but write nothing: every writing step is skipped. */
  dryRun?: boolean;
  log?: (s: string) => void;
  random?: (n: number) => Uint8Array;
}

type Verified = EnrollResult["verified"];

export interface EnrollResult {
  dryRun: boolean;
  slot: string;
  user: { id: string; name: string };
  credentialId: string | null;
  projectId: string | null;
  otherTotpCredentials: number;
  mfa: { before: MfaOptions; after: MfaOptions; changed: boolean; note?: string };
  verified: {
    /** How it was verified (see EnrollOptions.verify). */
    method: "totp" | "password";
    /** Keystone accepted a code from the token (in a TOTP-only or a password+TOTP login). */
    codeAccepted: boolean;
    /** Password + a code from the token logged in (verify "password" only). */
    mfaLogin: boolean;
    /**
     * TOTP-only login once the rule is in force: "receipt" — the code is right and Keystone still wants the
     * password (the rule is enforced); "token" — a code alone logged in (no rule enforced).
     */
    totpOnly: "receipt" | "token" | "not-checked";
    /** Rules in that receipt that need no totp: each lets the user in without the token (verify "totp" only). */
    weakRules: string[][];
    /** "refused-mfa": password alone now fails as it should; "accepted": it still works (MFA not enforced). */
    passwordOnly: "refused-mfa" | "accepted" | "refused" | "not-checked";
    requiredAuthMethods: string[][];
  };
  warnings: string[];
  plan: string[];
}

const isId = (s: string) => /^[0-9a-f]{32}$/.test(s);

/** What the steps share: the caller's token, whom we enrol, and where progress and undo steps go. */
interface Run {
  o: EnrollOptions;
  client: KeystoneClient;
  /** The caller's token. */
  T: string;
  target: { id: string; name: string; options: Record<string, unknown> };
  method: "totp" | "password";
  targetPassword: string | undefined;
  log: (s: string) => void;
  warnings: string[];
  undo: Rollback;
}

async function deviceCode(device: SlotDevice, slot: string): Promise<string> {
  let r = await device.code(slot);
  let c = r.codes.find((x) => x.name === slot) ?? r.codes[0];
  // A code in its last second may reach Keystone in the next step; it is still accepted there (previous
  // window), but a server configured with no previous window would refuse it — so take the next one.
  if (c && c.left < 2) {
    await new Promise((res) => setTimeout(res, (c!.left + 0.2) * 1000));
    r = await device.code(slot);
    c = r.codes.find((x) => x.name === slot) ?? r.codes[0];
  }
  if (!c || typeof c.code !== "string" || !/^[0-9]{6}$/.test(c.code)) throw new Error(`The token gave no 6-digit code for slot "${slot}".`);
  return c.code;
}

/** Step 1: the caller logs in with a password. */
async function logIn(o: EnrollOptions): Promise<IssuedToken> {
  try {
    return await o.client.issueToken({ user: o.caller.user, password: o.caller.password, project: o.caller.project });
  } catch (err) {
    if (err instanceof KeystoneAuthError && err.needsMoreFactors) {
      throw new EnrollError(
        "The enrolling account already needs a second factor; enrol as an admin (--os-cloud of an admin with " +
          "--user-id) or use `hwtotp exec`.",
      );
    }
    throw err;
  }
}

/** Step 2: whom we enrol (the caller, or the user named), with their options (MFA rules). */
async function findTarget(o: EnrollOptions, T: string, caller: IssuedToken): Promise<Run["target"]> {
  const { client } = o;
  if (o.targetUser !== undefined && o.targetUser !== caller.user.id && o.targetUser !== caller.user.name) {
    let u = null;
    try {
      u = await client.getUser(T, o.targetUser);
    } catch (err) {
      if (!(err instanceof KeystoneError) || err.status !== 404 || isId(o.targetUser)) throw err;
    }
    u ??= await client.findUser(T, o.targetUser, caller.user.domainId ?? "default");
    if (!u) throw new EnrollError(`Keystone has no user "${o.targetUser}".`);
    return { id: u.id, name: u.name, options: u.options };
  }
  const target = { id: caller.user.id, name: caller.user.name, options: {} as Record<string, unknown> };
  try {
    target.options = (await client.getUser(T, caller.user.id)).options;
  } catch (err) {
    if (!(err instanceof KeystoneError) || err.status !== 403) throw err;
  }
  return target;
}

/** Step 3: the id of the project the credential is attached to, or null. */
async function credentialProject(o: EnrollOptions, T: string, caller: IssuedToken): Promise<string | null> {
  const p = o.credentialProject;
  if (p === undefined) return null;
  if (caller.project && (p === caller.project.id || p === caller.project.name)) return caller.project.id;
  if (isId(p)) return p;
  const found = await o.client.findProject(T, p);
  if (!found) throw new EnrollError(`Keystone has no project "${p}" that you can see.`);
  return found.id;
}

/** Step 4: the target's other TOTP credentials (Keystone accepts a code of any of them); 0 when we may not look. */
async function otherTotpCredentials(r: Run): Promise<number> {
  let others = 0;
  try {
    others = (await r.client.listTotpCredentials(r.T, r.target.id)).length;
  } catch (err) {
    if (!(err instanceof KeystoneError) || err.status !== 403) throw err;
  }
  if (others > 0) {
    r.warnings.push(
      `${r.target.name} already has ${others} TOTP credential(s); Keystone accepts a code from any of them. Delete the old ones (openstack credential list --type totp) if they are no longer wanted.`,
    );
  }
  return others;
}

/** The steps this run takes, as words (the result's `plan`). */
function planOf(r: Run, projectId: string | null, wantRules: boolean): string[] {
  const { target, method, o } = r;
  const plan = [
    `generate a ${SEED_BYTES}-byte seed on this host (upper-case base32, ${SEED_BYTES * 8} bits)`,
    `store it in the token as slot "${o.slot}" (SHA1, 6 digits, 30 s)`,
    `register it with Keystone as a totp credential of ${target.name} (${target.id})${projectId ? ` in project ${projectId}` : ""}`,
    method === "password"
      ? `verify: password + a code from the token logs ${target.name} in${r.targetPassword === undefined ? ` (needs ${target.name}'s password)` : ""}`
      : `verify without ${target.name}'s password: Keystone accepts a code from the token in a TOTP-only login (a token or an auth receipt; a wrong code gets neither)`,
  ];
  if (wantRules) plan.push(`set ${target.name}'s rule [password, totp] and enable multi-factor auth (PATCH /v3/users/${target.id})`);
  if (o.rules !== "skip") {
    plan.push(
      method === "password"
        ? "verify: password alone is now refused"
        : "verify: a code alone now gets an auth receipt that still asks for the password (the rule is enforced)",
    );
  }
  return plan;
}

/** Step 5: a new seed into the token. Returns its base32 form for Keystone. From here on, failures roll back. */
async function storeSeed(r: Run): Promise<string> {
  const key = (r.o.random ?? generateKey)(SEED_BYTES);
  const secret = keystoneBase32(key);
  const bad = checkKeystoneSecret(secret);
  if (bad) throw new EnrollError(bad);
  try {
    await r.o.device.add({ name: r.o.slot, key: toHex(key), ...KEYSTONE_TOTP });
  } finally {
    key.fill(0);
  }
  r.undo.add(`slot "${r.o.slot}" on the token`, () => r.o.device.delete(r.o.slot));
  r.log(`Stored a new seed in the token as "${r.o.slot}".`);
  return secret;
}

/** Step 6: the seed as the target's totp credential. */
async function registerCredential(r: Run, secret: string, projectId: string | null): Promise<string> {
  const cred = await r.client.createTotpCredential(r.T, { userId: r.target.id, projectId: projectId ?? undefined, secretBase32: secret });
  r.undo.add(`credential ${cred.id} in Keystone`, () => r.client.deleteCredential(r.T, cred.id));
  r.log(`Registered TOTP credential ${cred.id} for ${r.target.name}.`);
  return cred.id;
}

const HINT_401 = " (is the token's clock right and not ahead — `hwtotp time sync` — and is `totp` in [auth] methods of keystone.conf?)";

/** A password+TOTP login of the target with a code from the token (its token revoked at once). */
async function verifyMfa(r: Run, when: string): Promise<void> {
  try {
    const t = await r.client.issueMfaToken({
      user: { id: r.target.id },
      password: r.targetPassword!,
      passcode: await deviceCode(r.o.device, r.o.slot),
    });
    await r.client.revokeToken(r.T, t.token).catch(() => undefined);
  } catch (err) {
    const hint = err instanceof KeystoneAuthError ? HINT_401 : "";
    throw new Error(`password + a code from the token did not log ${r.target.name} in ${when}${hint}: ${(err as Error).message}`);
  }
}

/** A TOTP-only login: "token" (logged in: no rule asks for more), or "receipt" (right code, more factors wanted). */
async function verifyCode(r: Run, when: string): Promise<{ outcome: "token" | "receipt"; required: string[][] }> {
  const passcode = await deviceCode(r.o.device, r.o.slot);
  try {
    const t = await r.client.issueToken({ user: { id: r.target.id }, passcode });
    await r.client.revokeToken(r.T, t.token).catch(() => undefined);
    return { outcome: "token", required: [] };
  } catch (err) {
    if (err instanceof KeystoneAuthError && err.receipt) return { outcome: "receipt", required: err.requiredAuthMethods };
    const hint = err instanceof KeystoneAuthError ? HINT_401 : "";
    throw new Error(`Keystone refused a code from the token for ${r.target.name} ${when}${hint}: ${(err as Error).message}`);
  }
}

/** Step 7: Keystone accepts a code from the token (password+TOTP, or TOTP alone). */
async function verifyRegistered(r: Run): Promise<void> {
  if (r.method === "password") {
    await verifyMfa(r, "after registration");
    r.log(`Verified: password + token code logs ${r.target.name} in.`);
  } else {
    const v = await verifyCode(r, "after registration");
    r.log(
      `Verified: Keystone accepts a code from the token for ${r.target.name} (TOTP-only login: ${v.outcome === "token" ? "a token, revoked at once" : "an auth receipt"}).`,
    );
  }
}

/** Step 8: rule [password, totp] + enable, when the caller may; else a warning (or, with rules "require", a failure). */
async function setRule(r: Run, before: MfaOptions): Promise<EnrollResult["mfa"]> {
  const rules = hasRule(before.rules, MFA_RULE) ? before.rules : [...before.rules, MFA_RULE];
  try {
    const after = await r.client.setMfaOptions(r.T, r.target.id, { rules, enabled: true });
    r.undo.add(`MFA options of ${r.target.name}`, () => r.client.setMfaOptions(r.T, r.target.id, before));
    r.log(`Set ${r.target.name}'s MFA rule [password, totp] and enabled MFA.`);
    return { before, after, changed: true };
  } catch (err) {
    if (!(err instanceof KeystoneError) || (err.status !== 403 && err.status !== 401) || r.o.rules === "require") throw err;
    const note = `You may not change ${r.target.name}'s MFA options; ask an admin to run: openstack user set --multi-factor-auth-rule password,totp --enable-multi-factor-auth ${r.target.id}`;
    r.warnings.push(note);
    return { before, after: before, changed: false, note };
  }
}

/** Step 9: with the rule in force, password+TOTP still works and password alone (or a code alone) does not. */
async function verifyEnforced(r: Run): Promise<Pick<Verified, "passwordOnly" | "totpOnly" | "requiredAuthMethods">> {
  let passwordOnly: Verified["passwordOnly"] = "not-checked";
  let totpOnly: Verified["totpOnly"] = "not-checked";
  let required: string[][] = [];
  if (r.method === "password") {
    await verifyMfa(r, "once MFA was enabled");
    const p = await r.client.probePasswordOnly({ id: r.target.id }, r.targetPassword!);
    passwordOnly = p.outcome;
    required = p.requiredAuthMethods;
  } else {
    const v = await verifyCode(r, "once MFA was enabled");
    totpOnly = v.outcome;
    required = v.required;
  }
  return { passwordOnly, totpOnly, requiredAuthMethods: required };
}

/** What the enforcement check found, as progress or (loud) warnings. */
function reportEnforcement(r: Run, v: Pick<Verified, "passwordOnly" | "totpOnly" | "requiredAuthMethods">): void {
  const name = r.target.name;
  if (v.passwordOnly === "refused-mfa") r.log(`Verified: password alone is refused for ${name}.`);
  else if (v.totpOnly === "receipt") {
    r.log(`Verified: a code alone gets an auth receipt; Keystone still wants ${JSON.stringify(v.requiredAuthMethods)} for ${name}.`);
    for (const rule of v.requiredAuthMethods.filter((x) => !x.includes("totp"))) {
      r.warnings.push(
        `${name.toUpperCase()} CAN LOG IN WITHOUT THE TOKEN: rule ${JSON.stringify(rule)} needs no totp. Remove it (openstack user set --multi-factor-auth-rule … replaces the rules).`,
      );
    }
  } else if (r.method === "password") {
    r.warnings.push(
      `PASSWORD ALONE STILL LOGS ${name.toUpperCase()} IN: Keystone does not enforce the rule. ` +
        "Most likely `totp` is missing from [auth] methods in keystone.conf (it is not in the default); add it and restart Keystone.",
    );
  } else {
    r.warnings.push(
      `A CODE ALONE LOGS ${name.toUpperCase()} IN: Keystone does not enforce the rule [password, totp] it holds for this user.`,
    );
  }
}

/** Runs a step that comes after the seed went into the token: on a failure, rolls back and says so truthfully. */
async function undoable<T>(r: Run, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const report = await r.undo.run(r.log);
    const msg = err instanceof Error ? err.message : String(err);
    throw rolledBack(report)
      ? new EnrollError(`Enrolment failed and was rolled back: ${msg}`)
      : new EnrollError(`Enrolment failed: ${msg}`, report);
  }
}

/**
 * Runs the enrolment. Progress sentences go to `log` (never a secret, a code or a password). With `dryRun`
 * the same steps run up to the first write (login, lookups), and the writing steps are skipped.
 */
export async function enrollKeystone(o: EnrollOptions): Promise<EnrollResult> {
  const dryRun = !!o.dryRun;
  const caller = await logIn(o);
  const T = caller.token;
  try {
    const target = await findTarget(o, T, caller);
    const self = target.id === caller.user.id;
    const r: Run = {
      o,
      client: o.client,
      T,
      target,
      method: o.verify ?? "totp",
      targetPassword: o.targetPassword ?? (self ? o.caller.password : undefined),
      log: o.log ?? (() => undefined),
      warnings: [],
      undo: new Rollback(),
    };
    if (r.method === "password" && r.targetPassword === undefined && !dryRun) {
      throw new EnrollError(
        `Verifying the enrolment with a password login needs ${target.name}'s password (--user-password, or HWTOTP_KEYSTONE_USER_PASSWORD); the default check (--verify totp) needs none.`,
      );
    }
    const before = readMfaOptions(target.options);
    const projectId = await credentialProject(o, T, caller);
    const others = await otherTotpCredentials(r);
    const wantRules = o.rules !== "skip" && !(before.enabled && hasRule(before.rules, MFA_RULE));
    const plan = planOf(r, projectId, wantRules);
    const result = (credentialId: string | null, mfa: EnrollResult["mfa"], verified: Verified): EnrollResult => ({
      dryRun,
      slot: o.slot,
      user: { id: target.id, name: target.name },
      projectId,
      otherTotpCredentials: others,
      credentialId,
      mfa,
      verified,
      warnings: r.warnings,
      plan,
    });
    const unchecked: Verified = {
      method: r.method,
      codeAccepted: false,
      mfaLogin: false,
      totpOnly: "not-checked",
      passwordOnly: "not-checked",
      requiredAuthMethods: [],
      weakRules: [],
    };
    if (dryRun) return result(null, { before, after: before, changed: false }, unchecked);

    const secret = await storeSeed(r);
    const credentialId = await undoable(r, () => registerCredential(r, secret, projectId));
    await undoable(r, () => verifyRegistered(r));
    const mfa = wantRules ? await undoable(r, () => setRule(r, before)) : { before, after: before, changed: false };
    let enforced: Pick<Verified, "passwordOnly" | "totpOnly" | "requiredAuthMethods"> = {
      passwordOnly: "not-checked",
      totpOnly: "not-checked",
      requiredAuthMethods: [],
    };
    if (o.rules !== "skip" && mfa.after.enabled && hasRule(mfa.after.rules, MFA_RULE)) {
      enforced = await undoable(r, () => verifyEnforced(r));
      reportEnforcement(r, enforced);
    }
    return result(credentialId, mfa, {
      ...unchecked,
      ...enforced,
      codeAccepted: true,
      mfaLogin: r.method === "password",
      weakRules: enforced.totpOnly === "receipt" ? enforced.requiredAuthMethods.filter((x) => !x.includes("totp")) : [],
    });
  } finally {
    await o.client.revokeToken(T, T).catch(() => undefined);
  }
}

/** A check a dry run made without any secret: `ok` null when it could not be made. */
export interface DryRunCheck {
  what: string;
  ok: boolean | null;
  detail: string;
}

/** An input the real run would still need, and where it would read it from (the value is never read here). */
export interface DryRunNeed {
  what: string;
  from: string;
  /** true: present there; false: missing (the real run would stop with exit 2); null: asked for at run time. */
  present: boolean | null;
}

export interface EnrollPlanOptions {
  client: KeystoneClient;
  /** Who would log in, as words (e.g. `admin (domain Default) scoped to project demo`). */
  caller: string;
  /** User to enrol (id or name); undefined: the caller. */
  targetUser?: string;
  slot: string;
  credentialProject?: string;
  rules: "auto" | "require" | "skip";
  verify?: "totp" | "password";
  /** Lists the token's slots (read-only); null when no device should be asked. */
  listSlots: (() => Promise<{ slots: { name: string }[]; max: number }>) | null;
  needs: DryRunNeed[];
}

export interface EnrollPlan {
  dryRun: true;
  slot: string;
  authUrl: string;
  steps: string[];
  rollback: string[];
  checks: DryRunCheck[];
  needs: DryRunNeed[];
}

/**
 * `enroll --dry-run`: the plan, with what can be checked without a secret — Keystone's GET /v3 and the
 * token's slot list. No password is read, no login made, nothing written to the token or to Keystone.
 */
export async function planEnrollment(o: EnrollPlanOptions): Promise<EnrollPlan> {
  const base = o.client.base;
  const who = o.targetUser ?? "the user logging in";
  const uid = o.targetUser === undefined ? "{caller's id}" : isId(o.targetUser) ? o.targetUser : `{id of ${o.targetUser}}`;
  const steps = [
    `log in to Keystone as ${o.caller} with a password (POST ${base}/auth/tokens)` +
      (o.targetUser !== undefined
        ? `, then look ${o.targetUser} up (GET /v3/users${isId(o.targetUser) ? "/" + o.targetUser : `?name=${o.targetUser}`})`
        : "") +
      `, and list ${who}'s existing TOTP credentials (GET /v3/credentials?type=totp)`,
    `generate a ${SEED_BYTES}-byte seed on this host (upper-case base32, ${SEED_BYTES * 8} bits; never printed)`,
    `store it in the token as slot "${o.slot}" (SHA1, 6 digits, 30 s)`,
    `register it with Keystone: POST /v3/credentials {type: totp, user_id: ${uid}${o.credentialProject !== undefined ? `, project_id: {id of ${o.credentialProject}}` : ""}, blob: <the seed>}`,
    o.verify === "password"
      ? `verify: password + a code from the token logs ${who} in (POST /v3/auth/tokens, methods password+totp)`
      : `verify without ${who}'s password: a TOTP-only login (POST /v3/auth/tokens, method totp) must get a token or an auth receipt; a wrong code gets neither`,
  ];
  if (o.rules !== "skip") {
    steps.push(
      `unless ${who} already has the rule [password, totp] enabled: PATCH /v3/users/${uid} options ` +
        `{multi_factor_auth_rules: +[password, totp], multi_factor_auth_enabled: true}` +
        (o.rules === "require"
          ? " — refused means failure and rollback"
          : " — if refused (not an admin), warn and print the admin's `openstack user set` command"),
      o.verify === "password"
        ? `once the rule is in force: log in again with password + a fresh code, then check that password alone is refused (exit 11 and a loud warning if it still logs in)`
        : `once the rule is in force: a fresh code alone must get an auth receipt that still asks for the password (exit 11 and a loud warning if it logs in)`,
    );
  } else {
    steps.push("leave MFA rules alone (--rules skip)");
  }
  steps.push("revoke its own Keystone token");
  const rollback = [
    "nothing is written before the seed goes into the token; a failure there leaves both sides unchanged",
    "any failure after that undoes, newest first: the MFA options (PATCHed back to what they were), the credential " +
      "(DELETE /v3/credentials/{id}), the token's slot",
    "a rollback step that fails is named in the error, so nothing is left behind unsaid",
  ];

  const checks: DryRunCheck[] = [];
  const plain = insecureTransport(base);
  if (plain) checks.push({ what: "transport", ok: false, detail: plain + " The real run refuses it without --insecure." });
  try {
    const v = await o.client.version();
    checks.push({ what: "Keystone", ok: true, detail: `${base} answers GET /v3: ${v.id}${v.status ? ` (${v.status})` : ""}` });
  } catch (err) {
    checks.push({ what: "Keystone", ok: false, detail: (err as Error).message });
  }
  if (o.listSlots) {
    try {
      const l = await o.listSlots();
      const taken = l.slots.some((s) => s.name === o.slot);
      checks.push({ what: "token", ok: true, detail: `answers; ${l.slots.length} of ${l.max} slots used` });
      if (taken)
        checks.push({
          what: "slot name",
          ok: false,
          detail: `slot "${o.slot}" exists on the token: the real run would refuse it (choose --name, or delete the slot)`,
        });
      else if (l.slots.length >= l.max)
        checks.push({ what: "slot name", ok: false, detail: `"${o.slot}" is free but the token is full (${l.max} slots)` });
      else checks.push({ what: "slot name", ok: true, detail: `"${o.slot}" is free on the token` });
    } catch (err) {
      checks.push({ what: "token", ok: false, detail: `did not answer: ${(err as Error).message}` });
    }
  }
  checks.push({
    what: "not checked",
    ok: null,
    detail: `the login, ${who}'s id and MFA options, existing TOTP credentials${o.credentialProject !== undefined ? ", the credential project" : ""} and the right to PATCH users need a password; the real run checks them before it touches the token`,
  });
  return { dryRun: true, slot: o.slot, authUrl: base, steps, rollback, checks, needs: o.needs };
}

/**
 * Why sending a seed to `authUrl` is unsafe, or null: an enrolment carries the TOTP seed and passwords, so
 * plain http:// is only for a Keystone on this machine (localhost, 127.0.0.0/8, ::1).
 */
export function insecureTransport(authUrl: string): string | null {
  let u: URL;
  try {
    u = new URL(authUrl);
  } catch {
    return `${authUrl} is not a URL.`;
  }
  if (u.protocol === "https:") return null;
  if (u.protocol !== "http:") return `${authUrl} is neither https:// nor http://.`;
  const h = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return null;
  return `${u.origin} is plain http:// to another host: the TOTP seed and passwords would cross the network unencrypted.`;
}
