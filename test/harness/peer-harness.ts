// A second real uid for daemon tests: runs a raw protocol client (or the hwtotp CLI) as uid/gid 65534 with
// `setpriv --reuid --regid --clear-groups`. Needs root (CI runs as root) and util-linux setpriv; without
// them the suites that use it are pending and say why (AS_NOBODY_WHY).
import { execFileSync, spawn } from "node:child_process";
import { BIN } from "./cli-harness.ts";

export const NOBODY = 65534;

const setprivThere = (() => {
  try {
    execFileSync("setpriv", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

export const CAN_SWITCH_UID = process.getuid?.() === 0 && setprivThere;
export const AS_NOBODY_WHY = CAN_SWITCH_UID
  ? ""
  : " — pending: " + (process.getuid?.() !== 0 ? "not root" : "no setpriv (util-linux)") + ", so no client can run as another uid";

const SETPRIV = ["--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"];

export interface Reply {
  id: number | null;
  ok: boolean;
  d?: { [k: string]: unknown };
  e?: string;
  m?: string;
}

// Connects, optionally sends a line first (a forged introduction), sends the frames, prints the replies
// (press notices left out) as one JSON array once every id is answered, or what it got after 5 s.
const CLIENT = `
const net = require("net");
const [sock, first, frames] = [process.argv[1], process.argv[2], JSON.parse(process.argv[3])];
const got = [];
const c = net.connect(sock);
c.setEncoding("utf8");
let buf = "";
const done = (err) => { process.stdout.write(JSON.stringify(err ? { error: err } : got)); c.destroy(); process.exit(0); };
c.on("error", (e) => done(e.code || e.message));
c.on("connect", () => { if (first) c.write(first + "\\n"); for (const f of frames) c.write(JSON.stringify(f) + "\\n"); });
c.on("data", (s) => {
  buf += s;
  let nl;
  while ((nl = buf.indexOf("\\n")) >= 0) {
    const r = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    if (!("press" in r)) got.push(r);
  }
  if (got.length >= frames.length) done();
});
setTimeout(() => done(), 5000);
`;

/** Runs the raw client as uid 65534; returns its pid (the kernel's view of who connected) and the replies. */
export function rawAsNobody(
  sock: string,
  requests: Array<{ op: string; a?: { [k: string]: unknown } }>,
  first = "",
): Promise<{ pid: number; replies: Reply[]; error?: string }> {
  const frames = requests.map((r, i) => ({ v: 1, id: 100 + i, op: r.op, a: r.a ?? {} }));
  return new Promise((resolve, reject) => {
    const p = spawn("setpriv", [...SETPRIV, process.execPath, "-e", CLIENT, sock, first, JSON.stringify(frames)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    p.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    p.on("error", reject);
    p.on("close", () => {
      try {
        const r = JSON.parse(out);
        resolve(Array.isArray(r) ? { pid: p.pid!, replies: r } : { pid: p.pid!, replies: [], error: r.error });
      } catch {
        reject(new Error("client as nobody printed " + JSON.stringify(out) + ", stderr " + JSON.stringify(err)));
      }
    });
  });
}

/** The hwtotp CLI as uid 65534 (the repository must be readable by it). */
export function cliAsNobody(args: string[], env: NodeJS.ProcessEnv, input = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn("setpriv", [...SETPRIV, process.execPath, BIN, ...args], { env, cwd: "/", stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    p.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(input);
  });
}

/** A process of uid 65534 that connects to `sock` and holds the connection until killed; resolves once connected. */
export function holdAsNobody(sock: string): Promise<{ pid: number; stop(): void }> {
  const script = `const c = require("net").connect(process.argv[1]); c.on("connect", () => process.stdout.write("up\\n")); c.on("error", () => process.exit(1)); setTimeout(() => process.exit(0), 20000);`;
  return new Promise((resolve, reject) => {
    const p = spawn("setpriv", [...SETPRIV, process.execPath, "-e", script, sock], { stdio: ["ignore", "pipe", "ignore"] });
    p.on("error", reject);
    p.once("exit", (code) => reject(new Error("holder exited " + code)));
    p.stdout.setEncoding("utf8").once("data", () => resolve({ pid: p.pid!, stop: () => p.kill("SIGTERM") }));
  });
}
