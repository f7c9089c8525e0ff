// The real-interpreter section of `npm run bench` (also runnable alone: node bench/real.mjs): device work per
// request on Espruino's Linux build with the fixed 2,500-variable heap (../shared/espruino/espruino-linux-2500,
// or HWTOTP_ESPRUINO), firmware/dist/firmware.js flashed the way `hwtotp flash` does it, 32 slots.
//
// Device work = CPU time (utime + stime, /proc/PID/stat) of the interpreter process per request, 8 requests in
// flight, the idle loop's own CPU subtracted, median of several rounds. The reference R is a plain ES5 HOTP
// with native require("crypto").SHA1 (pads from the key on every call) computed inside the same build, per
// HOTP, by CPU time the same way; R(flash) is that code run from a Storage file, as the firmware runs from
// .bootcde. Goals (issue 10): time ≤ 0.5 R, code of one ≤ 1.5 R, list of 32 ≤ 3 R, code of all 32 ≤ 32 R;
// heap after boot with 32 slots ≤ 1,100 of 2,500 variables. Prints, never asserts.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tsImport } from "tsx/esm/api";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_REAL_ROUNDS || 7);

// Plain ES5 HOTP (RFC 4226), native SHA1, ipad/opad from the key each time; C = require("crypto").
const HOTP_SRC =
  "function hotp(k,c,d){var ip=new Uint8Array(72),op=new Uint8Array(84),i,x;for(i=0;i<64;i++){x=i<k.length?k[i]:0;ip[i]=x^54;op[i]=x^92;}" +
  "for(i=7;i>=0;i--){ip[64+i]=c%256;c=Math.floor(c/256);}op.set(new Uint8Array(C.SHA1(ip)),64);var s=new " +
  "Uint8Array(C.SHA1(op)),o=s[19]&15," +
  'v=((s[o]&127)*16777216)+(s[o+1]<<16)+(s[o+2]<<8)+s[o+3],r=String(v%Math.pow(10,d));while(r.length<d)r="0"+r;return r;}';

const PIN = "correct horse battery 42";
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU ms of the interpreter for fn(), minus its idle rate over the same wall time. */
async function cpuOf(it, idlePerMs, fn) {
  const c0 = it.cpuMs();
  const t0 = performance.now();
  const v = await fn();
  const wall = performance.now() - t0;
  const u = it.cpuMs() - c0 - idlePerMs * wall;
  return { ms: Math.max(0, u), wall, v };
}

async function idleRate(it) {
  const c0 = it.cpuMs();
  const t0 = performance.now();
  await sleep(1500);
  return (it.cpuMs() - c0) / (performance.now() - t0);
}

function keyHex(i) {
  let h = "";
  for (let k = 0; k < 20; k++) h += ((i * 37 + k * 11 + 5) & 255).toString(16).padStart(2, "0");
  return h;
}

/** n requests, `inFlight` at a time; resolves with the replies. */
async function pipelined(c, n, inFlight, mk) {
  const out = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const [op, a] = mk(i);
      out[i] = await c.request(op, a, 60000);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  return out;
}

export async function runRealBench(log = console.log) {
  const h = await tsImport("../test/harness/real-interpreter.ts", import.meta.url);
  const why = h.missingReason();
  if (why) {
    log("   skipped: " + why);
    return null;
  }
  const build = h.pickBuild("espruino-linux-2500");
  if (build.name !== "espruino-linux-2500") log("   (no espruino-linux-2500: using " + build.name + ")");
  const { dataOf, replEval, Interpreter, flashedInterpreter } = h;

  // --- R: the reference, on a fresh interpreter that was never flashed ------------------------------------
  const ref = await Interpreter.start({ binary: build.binary });
  let R,
    Rflash,
    where = {};
  try {
    const ok = await replEval(
      ref,
      '(function(){C=require("crypto");' +
        HOTP_SRC.replace("function hotp", "hotp=function") +
        ';K=E.toUint8Array("12345678901234567890");return [hotp(K,0,6),hotp(K,1,6),hotp(K,9,6)].join(",");})()',
    );
    if (ok !== "755224,287082,520489") throw new Error("the reference HOTP is wrong: " + ok);
    const idle = await idleRate(ref);
    const N = 200;
    const per = async (expr, n = N) => {
      const xs = [];
      for (let r = 0; r < ROUNDS; r++) xs.push((await cpuOf(ref, idle, () => replEval(ref, expr))).ms / n);
      return median(xs);
    };
    R = await per("(function(){for(var j=0;j<" + N + ";j++)hotp(K,j,6);return 1;})()");
    // The same code from a Storage file (flash), as the firmware's .bootcde runs.
    await replEval(
      ref,
      '(function(){require("Storage").write("r.js",' +
        JSON.stringify("hotpF=" + HOTP_SRC.replace("function hotp", "function")) +
        ');eval(require("Storage").read("r.js"));return 1;})()',
    );
    Rflash = await per("(function(){for(var j=0;j<" + N + ";j++)hotpF(K,j,6);return 1;})()");
    // Where the request path's time can go, in the same build (code typed at the REPL, in RAM).
    const frame = JSON.stringify({ v: 1, id: 123456, op: "code", a: { name: "slot-7" } });
    const reply = JSON.stringify({
      v: 1,
      id: 123456,
      ok: true,
      d: { t: 1796155491.4016037, codes: [{ name: "slot-7", code: "123456", step: 59871849, left: 8.598, period: 30, touch: false }] },
    });
    await replEval(
      ref,
      "(function(){F=" +
        JSON.stringify(frame) +
        ";P=" +
        JSON.stringify(reply) +
        ';O=JSON.parse(P);require("Storage").write("hwt.x",new Uint8Array(200));return 1;})()',
    );
    const M = 2000;
    const each = async (body) => per("(function(){for(var j=0;j<" + M + ";j++){" + body + "}return 1;})()", M);
    where = {
      "JSON.parse of a request frame": await each("JSON.parse(F);"),
      "JSON.stringify of a one-code reply": await each("JSON.stringify(O);"),
      "Storage.read of a 200-byte file": await each('require("Storage").read("hwt.x");'),
      "Storage.readArrayBuffer (200 bytes)": await each('require("Storage").readArrayBuffer("hwt.x");'),
      "Storage.list()": await each('require("Storage").list();'),
    };
  } finally {
    await ref.stop();
  }

  // --- the firmware ---------------------------------------------------------------------------------------
  const { it, c } = await flashedInterpreter(build.binary);
  const figures = {};
  let heap = null;
  let unlockWall = null;
  try {
    const adds = await pipelined(c, 32, 8, (i) => ["add", { name: "slot-" + i, key: keyHex(i) }]);
    adds.forEach((r) => dataOf(r));
    await c.close();
    await it.restart();
    const c2 = await it.ready();
    heap = dataOf(await c2.request("hello")).heap; // the first request after boot with 32 slots
    const idle = await idleRate(it);
    const measure = async (label, n, mk, after) => {
      const xs = [];
      const us = [];
      for (let r = 0; r < ROUNDS; r++) {
        const u0 = userMs(it.pid);
        const { ms, v } = await cpuOf(it, idle, () => pipelined(c2, n, 8, mk));
        us.push((userMs(it.pid) - u0) / n);
        for (const x of v) dataOf(x);
        xs.push(ms / n);
        if (after) await after();
      }
      figures[label] = { ms: median(xs), min: Math.min(...xs), max: Math.max(...xs), user: median(us) };
    };
    await measure("time", 64, () => ["time", {}]);
    await measure("hello", 64, () => ["hello", {}]);
    await measure("code (one slot)", 64, (i) => ["code", { name: "slot-" + (i % 32) }]);
    await measure("list (32 slots)", 16, () => ["list", {}]);
    await measure("code (all 32)", 8, () => ["code", {}]);
    await measure("settime (small correction)", 16, () => ["settime", { t: Date.now() / 1000 + 0.25 }]);
    // add and delete around 32: 8 slots off, 8 back on, each round
    await pipelined(c2, 8, 8, (i) => ["delete", { name: "slot-" + (24 + i) }]);
    const del = async () => (await pipelined(c2, 8, 8, (i) => ["delete", { name: "slot-" + (24 + i) }])).forEach((r) => dataOf(r));
    const add = async () =>
      (await pipelined(c2, 8, 8, (i) => ["add", { name: "slot-" + (24 + i), key: keyHex(24 + i) }])).forEach((r) => dataOf(r));
    await measure("add (25th..32nd)", 8, (i) => ["add", { name: "slot-" + (24 + i), key: keyHex(24 + i) }], del);
    await add();
    await measure("delete (of 32)", 8, (i) => ["delete", { name: "slot-" + (24 + i) }], add);
    // with a PIN set (issue 11): every slot sealed; unlock = the tries record written twice + the native PBKDF2
    dataOf(await c2.request("pin", { next: PIN }));
    await measure("unlock (PIN set)", 4, () => ["unlock", { pin: PIN }]);
    await measure("code (one slot, PIN set)", 64, (i) => ["code", { name: "slot-" + (i % 32) }]);
    await measure("code (all 32, PIN set)", 8, () => ["code", {}]);
    const walls = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      dataOf(await c2.request("unlock", { pin: PIN }));
      walls.push(performance.now() - t0);
    }
    unlockWall = median(walls);
    await c2.close();
  } finally {
    await it.stop();
  }
  return { build: build.name, R, Rflash, where, figures, heap, unlockWall };
}

function userMs(pid) {
  const st = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
  const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) * 1000) / 100;
}

const GOALS = { time: 0.5, "code (one slot)": 1.5, "list (32 slots)": 3, "code (all 32)": 32 };

export function printRealBench(r, log = console.log) {
  if (!r) return;
  const f2 = (x) => x.toFixed(2).padStart(7);
  log(
    "   build " +
      r.build +
      "; R = plain ES5 HOTP, native SHA1, typed at the REPL: " +
      r.R.toFixed(2) +
      " ms CPU per HOTP" +
      " (from a Storage file, as .bootcde runs: " +
      r.Rflash.toFixed(2) +
      " ms)",
  );
  log("   op                            ms/request (min-max)      × R    goal     × R(flash)  user ms");
  for (const [k, v] of Object.entries(r.figures)) {
    const ratio = v.ms / r.R;
    const g = GOALS[k];
    log(
      "   " +
        k.padEnd(28) +
        f2(v.ms) +
        "  (" +
        v.min.toFixed(2) +
        "-" +
        v.max.toFixed(2) +
        ")".padEnd(6) +
        ratio.toFixed(2).padStart(8) +
        "   " +
        (g === undefined ? "" : "≤" + g + " " + (ratio <= g ? "ok" : "OVER")).padEnd(10) +
        (v.ms / r.Rflash).toFixed(2).padStart(8) +
        "   " +
        f2(v.user),
    );
  }
  if (r.heap) {
    log(
      "   heap after boot with 32 slots: " +
        r.heap.usage +
        " of " +
        r.heap.total +
        " variables (goal ≤ 1,100: " +
        (r.heap.usage <= 1100 ? "ok" : "OVER") +
        ")",
    );
  }
  if (r.unlockWall !== null)
    log("   unlock, one request alone, host wall time (pty round trip included): " + r.unlockWall.toFixed(1) + " ms");
  log("   where time can go (same build, REPL code in RAM, ms CPU each):");
  for (const [k, v] of Object.entries(r.where))
    log("     " + k.padEnd(38) + v.toFixed(3).padStart(7) + "  (" + (v / r.R).toFixed(2) + " R)");
  log("   (CPU = utime + stime of the interpreter; stime is mostly the Linux build reading espruino.flash through a file");
  log("    per access: code run from Storage, like the firmware, pays it, code typed at the REPL does not)");
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(
    "hwtotp real-interpreter bench: " +
      os.cpus().length +
      " CPU(s) " +
      os.cpus()[0].model +
      ", " +
      ROUNDS +
      " rounds, medians, load average " +
      os.loadavg()[0].toFixed(1),
  );
  runRealBench()
    .then((r) => printRealBench(r))
    .catch((e) => {
      console.error("real bench failed: " + (e.stack || e));
      process.exitCode = 1;
    });
  void HERE;
}
