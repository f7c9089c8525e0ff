// Keystone TOTP enrolment: seed generated on the host, provisioned into the token, registered as a `totp`
// credential (POST /v3/credentials), MFA rule set and enabled when the caller may (PATCH /v3/users/{id}),
// then verified. Without the user's password (the default, `verify: "totp"`): a TOTP-only login, which
// Keystone answers with a token (no rule yet) or an auth receipt (the rule wants the password too) when the
// code is right, and with a bare 401 when it is not. With it (`verify: "password"`): password+TOTP works and
// password alone no longer does. Any failure after the seed went into the token rolls back, so the token
// and Keystone never disagree. Facts: ../shared/facts/keystone.md.

import { encodeBase32, generateKey, toHex } from "../../secret.ts";
import {
  KeystoneAuthError,
  KeystoneError,
  hasRule,
  readMfaOptions,
  type KeystoneClient,
  type MfaOptions,
  type ProjectScope,
  type UserRef,
} from "./client.ts";

/** The part of the device session enrolment needs (host/src/session.ts's Session has it). */
export interface EnrollDevice {
  add(a: { name: string; key: string; alg?: "SHA1"; digits?: number; period?: number }): Promise<unknown>;
  delete(name: string): Promise<unknown>;
  code(name: string): Promise<{ codes: { name: string; code: string | null; left: number; step: number }[] }>;
}

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
  /** What is left behind when a rollback step failed (empty when the rollback was clean). */
  readonly leftovers: string[];
  constructor(message: string, leftovers: string[] = []) {
    super(leftovers.length ? `${message} Rollback incomplete: ${leftovers.join("; ")}.` : message);
    this.name = "EnrollError";
    this.leftovers = leftovers;
  }
}

export interface EnrollOptions {
  client: KeystoneClient;
  device: EnrollDevice;
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
  dryRun?: boolean;
  log?: (s: string) => void;
  random?: (n: number) => Uint8Array;
}

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

async function deviceCode(device: EnrollDevice, slot: string): Promise<string> {
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

/** Runs the enrolment. Progress sentences go to `log` (never a secret, a code or a password). */
export async function enrollKeystone(o: EnrollOptions): Promise<EnrollResult> {
  const log = o.log ?? (() => undefined);
  const { client } = o;
  const warnings: string[] = [];
  const plan: string[] = [];

  // 1. Log in as the caller.
  let caller;
  try {
    caller = await client.issueToken({ user: o.caller.user, password: o.caller.password, project: o.caller.project });
  } catch (err) {
    if (err instanceof KeystoneAuthError && err.needsMoreFactors) {
      throw new EnrollError("The enrolling account already needs a second factor; enrol as an admin (--os-cloud of an admin with --user-id) or use `hwtotp exec`.");
    }
    throw err;
  }
  const T = caller.token;
  try {
    // 2. Whom we enrol.
    let target = { id: caller.user.id, name: caller.user.name, options: {} as Record<string, unknown> };
    if (o.targetUser !== undefined && o.targetUser !== caller.user.id && o.targetUser !== caller.user.name) {
      let u = null;
      try {
        u = await client.getUser(T, o.targetUser);
      } catch (err) {
        if (!(err instanceof KeystoneError) || err.status !== 404 || isId(o.targetUser)) throw err;
      }
      u ??= await client.findUser(T, o.targetUser, caller.user.domainId ?? "default");
      if (!u) throw new EnrollError(`Keystone has no user "${o.targetUser}".`);
      target = { id: u.id, name: u.name, options: u.options };
    } else {
      try {
        const u = await client.getUser(T, caller.user.id);
        target.options = u.options;
      } catch (err) {
        if (!(err instanceof KeystoneError) || err.status !== 403) throw err;
      }
    }
    const self = target.id === caller.user.id;
    const method = o.verify ?? "totp";
    const targetPassword = o.targetPassword ?? (self ? o.caller.password : undefined);
    if (method === "password" && targetPassword === undefined && !o.dryRun) {
      throw new EnrollError(`Verifying the enrolment with a password login needs ${target.name}'s password (--user-password, or HWTOTP_KEYSTONE_USER_PASSWORD); the default check (--verify totp) needs none.`);
    }
    const before = readMfaOptions(target.options);

    // 3. Credential project.
    let projectId: string | null = null;
    if (o.credentialProject !== undefined) {
      const p = o.credentialProject;
      if (caller.project && (p === caller.project.id || p === caller.project.name)) projectId = caller.project.id;
      else if (isId(p)) projectId = p;
      else {
        const found = await client.findProject(T, p);
        if (!found) throw new EnrollError(`Keystone has no project "${p}" that you can see.`);
        projectId = found.id;
      }
    }

    // 4. Existing TOTP credentials: Keystone accepts a code of any of them.
    let others = 0;
    try {
      others = (await client.listTotpCredentials(T, target.id)).length;
    } catch (err) {
      if (!(err instanceof KeystoneError) || err.status !== 403) throw err;
    }
    if (others > 0) {
      warnings.push(`${target.name} already has ${others} TOTP credential(s); Keystone accepts a code from any of them. Delete the old ones (openstack credential list --type totp) if they are no longer wanted.`);
    }

    const wantRules = o.rules !== "skip" && !(before.enabled && hasRule(before.rules, MFA_RULE));
    plan.push(`generate a ${SEED_BYTES}-byte seed on this host (upper-case base32, ${SEED_BYTES * 8} bits)`);
    plan.push(`store it in the token as slot "${o.slot}" (SHA1, 6 digits, 30 s)`);
    plan.push(`register it with Keystone as a totp credential of ${target.name} (${target.id})${projectId ? ` in project ${projectId}` : ""}`);
    if (method === "password") {
      plan.push(`verify: password + a code from the token logs ${target.name} in${targetPassword === undefined ? ` (needs ${target.name}'s password)` : ""}`);
    } else {
      plan.push(`verify without ${target.name}'s password: Keystone accepts a code from the token in a TOTP-only login (a token or an auth receipt; a wrong code gets neither)`);
    }
    if (wantRules) plan.push(`set ${target.name}'s rule [password, totp] and enable multi-factor auth (PATCH /v3/users/${target.id})`);
    if (o.rules !== "skip") {
      plan.push(method === "password" ? "verify: password alone is now refused" : "verify: a code alone now gets an auth receipt that still asks for the password (the rule is enforced)");
    }

    const empty = { dryRun: !!o.dryRun, slot: o.slot, user: { id: target.id, name: target.name }, projectId, otherTotpCredentials: others };
    if (o.dryRun) {
      return {
        ...empty, credentialId: null, mfa: { before, after: before, changed: false },
        verified: { method, codeAccepted: false, mfaLogin: false, totpOnly: "not-checked", passwordOnly: "not-checked", requiredAuthMethods: [], weakRules: [] }, warnings, plan,
      };
    }

    // 5. Seed → token. From here on, failures roll back.
    const key = (o.random ?? generateKey)(SEED_BYTES);
    const secret = keystoneBase32(key);
    const bad = checkKeystoneSecret(secret);
    if (bad) throw new EnrollError(bad);
    try {
      await o.device.add({ name: o.slot, key: toHex(key), ...KEYSTONE_TOTP });
    } finally {
      key.fill(0);
    }
    log(`Stored a new seed in the token as "${o.slot}".`);

    const undo: { what: string; run: () => Promise<unknown> }[] = [{ what: `slot "${o.slot}" on the token`, run: () => o.device.delete(o.slot) }];
    const rollback = async (why: unknown): Promise<never> => {
      const left: string[] = [];
      for (const u of undo.reverse()) {
        try {
          await u.run();
          log(`Rolled back: ${u.what}.`);
        } catch (e) {
          left.push(`${u.what} (${(e as Error).message})`);
        }
      }
      const msg = why instanceof Error ? why.message : String(why);
      throw new EnrollError(`Enrolment failed and was rolled back: ${msg}`, left);
    };

    let credentialId: string;
    try {
      const cred = await client.createTotpCredential(T, { userId: target.id, projectId: projectId ?? undefined, secretBase32: secret });
      credentialId = cred.id;
      undo.push({ what: `credential ${cred.id} in Keystone`, run: () => client.deleteCredential(T, cred.id) });
      log(`Registered TOTP credential ${cred.id} for ${target.name}.`);
    } catch (err) {
      return rollback(err);
    }

    const hint401 = " (is the token's clock right and not ahead — `hwtotp time sync` — and is `totp` in [auth] methods of keystone.conf?)";
    const verifyMfa = async (when: string) => {
      try {
        const t = await client.issueMfaToken({ user: { id: target.id }, password: targetPassword!, passcode: await deviceCode(o.device, o.slot) });
        await client.revokeToken(T, t.token).catch(() => undefined);
      } catch (err) {
        const hint = err instanceof KeystoneAuthError ? hint401 : "";
        throw new Error(`password + a code from the token did not log ${target.name} in ${when}${hint}: ${(err as Error).message}`);
      }
    };
    /** A TOTP-only login: "token" (logged in: no rule asks for more), or "receipt" (right code, more factors wanted). */
    const verifyCode = async (when: string): Promise<{ outcome: "token" | "receipt"; required: string[][] }> => {
      const passcode = await deviceCode(o.device, o.slot);
      try {
        const t = await client.issueToken({ user: { id: target.id }, passcode });
        await client.revokeToken(T, t.token).catch(() => undefined);
        return { outcome: "token", required: [] };
      } catch (err) {
        if (err instanceof KeystoneAuthError && err.receipt) return { outcome: "receipt", required: err.requiredAuthMethods };
        const hint = err instanceof KeystoneAuthError ? hint401 : "";
        throw new Error(`Keystone refused a code from the token for ${target.name} ${when}${hint}: ${(err as Error).message}`);
      }
    };
    try {
      if (method === "password") {
        await verifyMfa("after registration");
        log(`Verified: password + token code logs ${target.name} in.`);
      } else {
        const v = await verifyCode("after registration");
        log(`Verified: Keystone accepts a code from the token for ${target.name} (TOTP-only login: ${v.outcome === "token" ? "a token, revoked at once" : "an auth receipt"}).`);
      }
    } catch (err) {
      return rollback(err);
    }

    // 6. Rule + enable, when the caller may.
    let after = before;
    let changed = false;
    let note: string | undefined;
    if (wantRules) {
      const rules = hasRule(before.rules, MFA_RULE) ? before.rules : [...before.rules, MFA_RULE];
      try {
        after = await client.setMfaOptions(T, target.id, { rules, enabled: true });
        changed = true;
        undo.push({ what: `MFA options of ${target.name}`, run: () => client.setMfaOptions(T, target.id, before) });
        log(`Set ${target.name}'s MFA rule [password, totp] and enabled MFA.`);
      } catch (err) {
        if (!(err instanceof KeystoneError) || (err.status !== 403 && err.status !== 401) || o.rules === "require") return rollback(err);
        note = `You may not change ${target.name}'s MFA options; ask an admin to run: openstack user set --multi-factor-auth-rule password,totp --enable-multi-factor-auth ${target.id}`;
        warnings.push(note);
      }
    }

    // 7. With the rule in force: password+TOTP still works, password alone must not.
    let passwordOnly: EnrollResult["verified"]["passwordOnly"] = "not-checked";
    let totpOnly: EnrollResult["verified"]["totpOnly"] = "not-checked";
    let required: string[][] = [];
    if (o.rules !== "skip" && after.enabled && hasRule(after.rules, MFA_RULE)) {
      try {
        if (method === "password") {
          await verifyMfa("once MFA was enabled");
          const p = await client.probePasswordOnly({ id: target.id }, targetPassword!);
          passwordOnly = p.outcome;
          required = p.requiredAuthMethods;
        } else {
          const v = await verifyCode("once MFA was enabled");
          totpOnly = v.outcome;
          required = v.required;
        }
      } catch (err) {
        return rollback(err);
      }
      if (passwordOnly === "refused-mfa") log(`Verified: password alone is refused for ${target.name}.`);
      else if (totpOnly === "receipt") {
        log(`Verified: a code alone gets an auth receipt; Keystone still wants ${JSON.stringify(required)} for ${target.name}.`);
        for (const r of required.filter((r) => !r.includes("totp"))) {
          warnings.push(`${target.name.toUpperCase()} CAN LOG IN WITHOUT THE TOKEN: rule ${JSON.stringify(r)} needs no totp. Remove it (openstack user set --multi-factor-auth-rule … replaces the rules).`);
        }
      } else if (method === "password") {
        warnings.push(
          `PASSWORD ALONE STILL LOGS ${target.name.toUpperCase()} IN: Keystone does not enforce the rule. ` +
            "Most likely `totp` is missing from [auth] methods in keystone.conf (it is not in the default); add it and restart Keystone.",
        );
      } else {
        warnings.push(`A CODE ALONE LOGS ${target.name.toUpperCase()} IN: Keystone does not enforce the rule [password, totp] it holds for this user.`);
      }
    }
    await client.revokeToken(T, T).catch(() => undefined);
    return {
      ...empty, credentialId, mfa: { before, after, changed, note },
      verified: {
        method, codeAccepted: true, mfaLogin: method === "password", totpOnly, passwordOnly, requiredAuthMethods: required,
        weakRules: totpOnly === "receipt" ? required.filter((r) => !r.includes("totp")) : [],
      },
      warnings, plan,
    };
  } catch (err) {
    await client.revokeToken(T, T).catch(() => undefined);
    throw err;
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
      (o.targetUser !== undefined ? `, then look ${o.targetUser} up (GET /v3/users${isId(o.targetUser) ? "/" + o.targetUser : `?name=${o.targetUser}`})` : "") +
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
        (o.rules === "require" ? " — refused means failure and rollback" : " — if refused (not an admin), warn and print the admin's `openstack user set` command"),
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
    "any failure after that undoes, newest first: the MFA options (PATCHed back to what they were), the credential (DELETE /v3/credentials/{id}), the token's slot",
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
      if (taken) checks.push({ what: "slot name", ok: false, detail: `slot "${o.slot}" exists on the token: the real run would refuse it (choose --name, or delete the slot)` });
      else if (l.slots.length >= l.max) checks.push({ what: "slot name", ok: false, detail: `"${o.slot}" is free but the token is full (${l.max} slots)` });
      else checks.push({ what: "slot name", ok: true, detail: `"${o.slot}" is free on the token` });
    } catch (err) {
      checks.push({ what: "token", ok: false, detail: `did not answer: ${(err as Error).message}` });
    }
  }
  checks.push({ what: "not checked", ok: null, detail: `the login, ${who}'s id and MFA options, existing TOTP credentials${o.credentialProject !== undefined ? ", the credential project" : ""} and the right to PATCH users need a password; the real run checks them before it touches the token` });
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
