// Who may ask the daemon for what (`hwtotp daemon --policy FILE`, YAML, re-read on SIGHUP): rules by uid or
// group, optionally the caller's executable, each naming the slots and the ops it allows. Without a file the
// daemon's own uid may do everything and nobody else anything. Callers are the kernel's (daemon/peer.ts).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { checkName, OPS } from "../../../protocol/index.ts";
import { HwtotpError } from "../errors.ts";
import type { Peer } from "./peer.ts";

/** The ops a rule names (the protocol's, with hello as `info`); `read` and `manage` name groups of them. */
export const POLICY_OPS = ["code", "list", "info", "time", "add", "delete", "wipe", "settime", "pin", "unlock", "lock"] as const;
export type PolicyOp = (typeof POLICY_OPS)[number];
const OP_GROUPS: { [k: string]: PolicyOp[] } = {
  "*": [...POLICY_OPS],
  read: ["code", "list", "info", "time"],
  manage: ["add", "delete", "wipe", "settime", "pin", "unlock", "lock"],
};
/** Ops that name a slot (a.name): the rule's slots fence them. */
const SLOT_OPS = new Set<string>(["code", "add", "delete"]);

/** The policy op of a protocol op (hello is `info`), or null for one the daemon does not know. */
export function policyOp(op: string): PolicyOp | null {
  if (op === OPS.HELLO) return "info";
  return (POLICY_OPS as readonly string[]).includes(op) ? (op as PolicyOp) : null;
}

export interface Rule {
  /** Where it stands, for sentences: "rule 2 (uid backup)". */
  label: string;
  uid: number | null;
  gid: number | null;
  exe: string | null;
  slots: "*" | Set<string>;
  ops: Set<PolicyOp>;
}

export interface Policy {
  /** The file it came from, or null for the default. */
  file: string | null;
  /** The group the socket and its folder are opened to (0660 / 0750), or null: 0600 / 0700. */
  socketGroup: number | null;
  socketGroupName: string | null;
  rules: Rule[];
  /** Whether some rule may match a caller other than the daemon's own uid. */
  letsOthersIn: boolean;
}

export function defaultPolicy(daemonUid: number): Policy {
  return {
    file: null,
    socketGroup: null,
    socketGroupName: null,
    rules: [
      { label: "the default rule (the daemon's own uid)", uid: daemonUid, gid: null, exe: null, slots: "*", ops: new Set(POLICY_OPS) },
    ],
    letsOthersIn: false,
  };
}

export type Decision = { ok: true; slots: "*" | Set<string> } | { ok: false; why: string };

function matches(r: Rule, p: Peer): boolean {
  if (r.uid !== null && r.uid !== p.uid) return false;
  if (r.gid !== null && r.gid !== p.gid && !(p.groups ?? []).includes(r.gid)) return false;
  if (r.exe !== null && r.exe !== p.exe) return false;
  return true;
}

/**
 * Whether `peer` may do `op` (a protocol op) on `slot` (a.name; undefined for ops without one, or code of
 * every slot). On success, the slots its rules together allow (what list and code-all are filtered to).
 */
export function decide(policy: Policy, peer: Peer, op: string, slot: string | undefined): Decision {
  const pop = policyOp(op);
  const mine = policy.rules.filter((r) => matches(r, peer));
  const who = "uid " + peer.uid + (peer.exe ? " (" + path.basename(peer.exe) + ")" : "");
  if (!mine.length) return { ok: false, why: "Denied: the daemon's policy has no rule for " + who + "." };
  const withOp = pop ? mine.filter((r) => r.ops.has(pop)) : [];
  if (!withOp.length) return { ok: false, why: "Denied: the daemon's policy does not let " + who + " use " + (pop ?? op) + "." };
  let slots: "*" | Set<string> = new Set();
  for (const r of withOp) {
    if (r.slots === "*") slots = "*";
    else if (slots !== "*") for (const s of r.slots) slots.add(s);
  }
  if (pop && SLOT_OPS.has(pop) && slot !== undefined && slots !== "*" && !slots.has(slot)) {
    return { ok: false, why: "Denied: the daemon's policy does not let " + who + " use " + pop + " on slot " + JSON.stringify(slot) + "." };
  }
  return { ok: true, slots };
}

/** Why a path (and each folder above it) could be changed by someone else than `uid` and root, or null. */
export function writableByOthers(p: string, uid: number, opts: { groupToo: boolean }): string | null {
  let cur = p;
  for (;;) {
    let st: fs.Stats;
    try {
      st = fs.statSync(cur);
    } catch (e) {
      return cur + " cannot be read (" + ((e as NodeJS.ErrnoException).code ?? "error") + ")";
    }
    const self = cur === p;
    if (st.uid !== uid && st.uid !== 0) return cur + " belongs to uid " + st.uid;
    const sticky = !!(st.mode & 0o1000) && st.isDirectory() && !self;
    if (st.mode & 0o002 && !sticky) return cur + " is writable by everyone (mode " + (st.mode & 0o7777).toString(8) + ")";
    if (opts.groupToo && st.mode & 0o020 && !sticky) return cur + " is writable by its group (mode " + (st.mode & 0o7777).toString(8) + ")";
    const up = path.dirname(cur);
    if (up === cur) return null;
    cur = up;
  }
}

/** A user or group name (or number) from the system's databases (getent, so NSS users count too). */
function lookupId(db: "passwd" | "group", x: unknown, where: string): number {
  if (typeof x === "number" && Number.isInteger(x) && x >= 0) return x;
  if (typeof x === "string" && /^\d+$/.test(x)) return Number(x);
  if (typeof x !== "string" || !/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(x))
    throw bad(where + ": " + (db === "passwd" ? "uid" : "group") + " must be a name or a number.");
  const r = spawnSync("getent", [db, x], { encoding: "utf8" });
  let line = r.status === 0 ? r.stdout.split("\n")[0] : "";
  if (r.error) {
    // no getent (not glibc): the plain files
    const file = db === "passwd" ? "/etc/passwd" : "/etc/group";
    line =
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .find((l) => l.split(":")[0] === x) ?? "";
  }
  const id = Number(line.split(":")[2]);
  if (!line || !Number.isInteger(id)) throw bad(where + ": no " + (db === "passwd" ? "user" : "group") + " named " + x + ".");
  return id;
}

function bad(sentence: string): HwtotpError {
  return new HwtotpError(sentence);
}

const RULE_KEYS = new Set(["uid", "group", "exe", "slots", "ops"]);

function parseRule(x: unknown, i: number): Rule {
  const where = "rule " + (i + 1);
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw bad(where + " must be a mapping (uid or group, slots, ops).");
  const o = x as { [k: string]: unknown };
  for (const k of Object.keys(o))
    if (!RULE_KEYS.has(k)) throw bad(where + ": unknown key " + JSON.stringify(k) + " (known: uid, group, exe, slots, ops).");
  if (o.uid === undefined && o.group === undefined) throw bad(where + " names neither a uid nor a group.");
  const uid = o.uid === undefined ? null : lookupId("passwd", o.uid, where);
  const gid = o.group === undefined ? null : lookupId("group", o.group, where);
  let exe: string | null = null;
  if (o.exe !== undefined) {
    if (typeof o.exe !== "string" || !path.isAbsolute(o.exe))
      throw bad(where + ": exe must be an absolute path (as /proc/PID/exe shows it).");
    exe = o.exe;
  }
  let slots: "*" | Set<string>;
  if (o.slots === "*") slots = "*";
  else if (Array.isArray(o.slots) && o.slots.length) {
    slots = new Set();
    for (const s of o.slots) {
      const b = checkName(s, "slot name");
      if (b) throw bad(where + ": " + b.replace(/\.$/, "") + " (" + JSON.stringify(s) + ").");
      slots.add(s as string);
    }
  } else throw bad(where + ': slots must be "*" or a list of slot names.');
  const ops = new Set<PolicyOp>();
  const list = o.ops === "*" || typeof o.ops === "string" ? [o.ops] : o.ops;
  if (!Array.isArray(list) || !list.length) throw bad(where + ': ops must be "*" or a list of ops.');
  for (const op of list) {
    const group = typeof op === "string" ? OP_GROUPS[op] : undefined;
    if (group) group.forEach((g) => ops.add(g));
    else if (typeof op === "string" && (POLICY_OPS as readonly string[]).includes(op)) ops.add(op as PolicyOp);
    else throw bad(where + ": unknown op " + JSON.stringify(op) + " (known: " + POLICY_OPS.join(", ") + ", read, manage, *).");
  }
  if (ops.has("wipe") && slots !== "*") throw bad(where + ": wipe erases every slot, so a rule fenced to some slots cannot allow it.");
  const label =
    where + " (" + [uid !== null ? "uid " + o.uid : "", gid !== null ? "group " + o.group : ""].filter(Boolean).join(", ") + ")";
  return { label, uid, gid, exe, slots, ops };
}

/**
 * Reads and checks a policy file. Refused (a sentence naming the reason): a file or folder above it that
 * someone other than the daemon's uid and root could change, YAML that is not a policy, unknown users,
 * groups, ops or keys, and a policy that lets others in without naming the socket group they come through.
 */
export function loadPolicy(file: string, daemonUid: number): Policy {
  const abs = path.resolve(file);
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch (e) {
    throw bad("Cannot read the policy " + abs + " (" + ((e as NodeJS.ErrnoException).code ?? "error") + ").");
  }
  if (!fs.statSync(real).isFile()) throw bad("The policy " + abs + " is not a file.");
  const unsafe = writableByOthers(real, daemonUid, { groupToo: true });
  if (unsafe) throw bad("Refusing the policy " + abs + ": " + unsafe + ", so someone else could rewrite who may use the token.");
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(real, "utf8"));
  } catch (e) {
    throw bad("The policy " + abs + " is not valid YAML: " + String((e as Error).message).split("\n")[0]);
  }
  const where = "The policy " + abs + ": ";
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad(where + "it must be a mapping with rules (and socket).");
  const o = doc as { [k: string]: unknown };
  for (const k of Object.keys(o))
    if (k !== "rules" && k !== "socket") throw bad(where + "unknown key " + JSON.stringify(k) + " (known: socket, rules).");
  if (!Array.isArray(o.rules)) throw bad(where + "rules must be a list.");
  let rules: Rule[];
  try {
    rules = o.rules.map(parseRule);
  } catch (e) {
    throw bad(where + (e as Error).message);
  }
  let socketGroup: number | null = null;
  let socketGroupName: string | null = null;
  if (o.socket !== undefined) {
    const s = o.socket as { [k: string]: unknown };
    if (typeof s !== "object" || s === null || Array.isArray(s)) throw bad(where + "socket must be a mapping (group).");
    for (const k of Object.keys(s)) if (k !== "group") throw bad(where + "socket: unknown key " + JSON.stringify(k) + " (known: group).");
    if (s.group !== undefined) {
      try {
        socketGroup = lookupId("group", s.group, "socket");
      } catch (e) {
        throw bad(where + (e as Error).message);
      }
      socketGroupName = String(s.group);
    }
  }
  const others = rules.find((r) => r.uid !== daemonUid);
  if (others && socketGroup === null) {
    throw bad(
      where + others.label + " lets others in, but the socket would be 0600: name the group they reach it through (socket: {group: NAME}).",
    );
  }
  return { file: abs, socketGroup, socketGroupName, rules, letsOthersIn: !!others };
}

/** One line per rule, for the daemon's log when a policy is loaded. */
export function describePolicy(p: Policy): string {
  const rules = p.rules.map((r) => {
    const ops = r.ops.size === POLICY_OPS.length ? "*" : [...r.ops].join(",");
    const slots = r.slots === "*" ? "*" : [...r.slots].join(",");
    return r.label + (r.exe ? " exe=" + r.exe : "") + " ops=" + ops + " slots=" + slots;
  });
  return (
    (p.file ? "policy " + p.file : "default policy") +
    (p.socketGroup !== null ? ", socket group " + p.socketGroupName : "") +
    ": " +
    rules.join("; ")
  );
}
