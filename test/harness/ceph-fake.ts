// A stand-in radosgw-admin for fast tests: a Node script that logs its argv and CEPH_ARGS (one JSON line
// per call) and answers like Pacific's does (docs/facts/ceph.md). `mfa create` keeps the seed in its
// private state; `mfa check` then judges the pin like RGW (window ±W steps, replay index = step + |offset|).
// FAKE_CHECK=ok|refuse|noent forces the `mfa check` answer instead; FAKE_LIST=none: the user has no tokens.
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RadosgwAdmin } from "../../host/src/integrations/ceph/radosgw-admin.ts";

const SCRIPT = String.raw`
const fs = require("fs");
const crypto = require("crypto");
const args = process.argv.slice(2);
const cephArgs = (process.env.CEPH_ARGS || "").split(/\s+/).filter(Boolean);
fs.appendFileSync(LOG, JSON.stringify({ args, cephArgs: process.env.CEPH_ARGS || "" }) + "\n");
const opt = (name) => { const all = [...args, ...cephArgs].filter((a) => a.startsWith("--" + name + "=")).map((a) => a.slice(name.length + 3)); return all; };
const sub = args[args.indexOf("mfa") + 1];
const state = fs.existsSync(STATE) ? JSON.parse(fs.readFileSync(STATE, "utf8")) : {};
const save = () => fs.writeFileSync(STATE, JSON.stringify(state));
const serial = opt("totp-serial")[0];
function b32(s) { const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"; let bits = 0, v = 0; const out = []; for (const c of s) { v = (v << 5) | A.indexOf(c); bits += 5; if (bits >= 8) { out.push((v >>> (bits - 8)) & 255); bits -= 8; } } return Buffer.from(out); }
function totp(key, counter, digits) { const m = Buffer.alloc(8); m.writeUInt32BE(Math.floor(counter / 2 ** 32), 0); m.writeUInt32BE(counter % 2 ** 32, 4); const h = crypto.createHmac("sha1", key).update(m).digest(); const o = h[19] & 15; return String((h.readUInt32BE(o) & 0x7fffffff) % 10 ** digits).padStart(digits, "0"); }
const mode = process.env.FAKE_CHECK;
if (sub === "create") { state[serial] = { seed: opt("totp-seed")[0], type: opt("totp-seed-type")[0], secs: Number(opt("totp-seconds")[0]), window: Number(opt("totp-window")[0]), ofs: 0, last: (state[serial] || {}).last || 0 }; save(); console.log(""); process.exit(0); }
if (sub === "remove") { delete state[serial]; save(); console.log(""); process.exit(0); }
if (sub === "check") {
  const refuse = () => { console.error("MFA check failed, error: (13) Permission denied"); process.exit(13); };
  if (mode === "ok") { console.log("ok"); process.exit(0); }
  if (mode === "refuse") refuse();
  const t = state[serial];
  if (mode === "noent" || !t) { console.error("MFA check failed, error: (2) No such file or directory"); process.exit(2); }
  const pin = opt("totp-pin")[0];
  const key = t.type === "hex" ? Buffer.from(t.seed, "hex") : b32(t.seed);
  const now = Math.floor((Date.now() / 1000 - t.ofs) / t.secs);
  for (let off = -t.window; off <= t.window; off++) {
    if (totp(key, now + off, pin.length) === pin) {
      const index = now + Math.abs(off);
      if (index <= t.last) refuse();
      t.last = index; save(); console.log("ok"); process.exit(0);
    }
  }
  refuse();
}
if (sub === "list" || sub === "get") {
  if (process.env.FAKE_LIST === "none") { console.error("MFA listing failed, error: (2) No such file or directory"); process.exit(2); }
  const entries = [{ type: 2, id: "taken", seed: "SECRETSEEDSECRETSEED", seed_type: "base32", time_ofs: -570, step_size: 30, window: 2 }];
  for (const [id, t] of Object.entries(state)) entries.push({ type: 2, id, seed: t.seed, seed_type: t.type, time_ofs: t.ofs, step_size: t.secs, window: t.window });
  if (sub === "list") console.log(JSON.stringify({ entries }));
  else console.log(JSON.stringify({ entry: entries.find((e) => e.id === serial) || entries[0] }));
  process.exit(0);
}
console.log("");
process.exit(0);
`;

export interface FakeAdmin {
  dir: string;
  bin: string;
  calls(): { args: string[]; cephArgs: string }[];
  admin(env?: NodeJS.ProcessEnv): RadosgwAdmin;
}

export function fakeAdmin(): FakeAdmin {
  const dir = mkdtempSync(join(tmpdir(), "hwtotp-fake-rgw-"));
  const bin = join(dir, "radosgw-admin");
  const log = join(dir, "calls.jsonl");
  const state = join(dir, "state.json");
  writeFileSync(
    bin,
    "#!/usr/bin/env node\nconst LOG = " + JSON.stringify(log) + ";\nconst STATE = " + JSON.stringify(state) + ";\n" + SCRIPT,
  );
  chmodSync(bin, 0o755);
  return {
    dir,
    bin,
    calls: () =>
      existsSync(log)
        ? readFileSync(log, "utf8")
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l))
        : [],
    admin: (env: NodeJS.ProcessEnv = {}) => new RadosgwAdmin({ bin, conf: "/etc/ceph/test.conf", env: { ...process.env, ...env } }),
  };
}
