// A seeded fuzzer of the device link (issue 11 item 7): random bytes, truncated and valid JSON with wrong
// types, oversize lines, unknown ops, __proto__/constructor keys, deep nesting, control and non-ASCII bytes,
// interleaved valid requests. Every line sent is non-empty and gets exactly one reply; nothing it sends may
// change a slot or the PIN (no valid destructive request, no unlock with a well-formed PIN).
import { MAX_REQUEST_LINE, parseReply, type Reply } from "../../protocol/index.ts";
import type { Emulator } from "../../firmware/emulator/index.ts";
import { seeded } from "./random.ts";

// "lock" is left out (a valid lock changes the session), and no string in WRONG is a well-formed PIN (4+
// printable characters), so no frame spends a PIN try.
const OPS = [
  "hello",
  "time",
  "settime",
  "add",
  "list",
  "delete",
  "code",
  "wipe",
  "unlock",
  "pin",
  "format",
  "__proto__",
  "constructor",
  "toString",
  "",
];
const WRONG: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, "", "x", "0x1", [], [1, 2], {}, { a: 1 }, "\u0000", "\u00e9\u00ff"];

/** One fuzz line (without its newline) and whether it is a valid request whose reply must be ok. */
export function fuzzLine(rnd: () => number, id: number): { line: string; valid: boolean } {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const k = rnd();
  let line: string;
  let valid = false;
  if (k < 0.12) {
    // random bytes: control and non-ASCII included, never a newline (nor 0x04 on the Linux build's stdin)
    const n = 1 + Math.floor(rnd() * 80);
    line = "";
    for (let i = 0; i < n; i++) {
      let c = Math.floor(rnd() * 256);
      if (c === 10 || c === 4) c = 32;
      line += String.fromCharCode(c);
    }
  } else if (k < 0.24) {
    // a valid frame cut short
    const full = JSON.stringify({ v: 1, id, op: pick(OPS), a: { name: "a" } });
    line = full.slice(0, 1 + Math.floor(rnd() * (full.length - 1)));
  } else if (k < 0.4) {
    // well-formed JSON, wrong types in every position
    const o: Record<string, unknown> = {
      v: rnd() < 0.8 ? 1 : pick(WRONG),
      id: rnd() < 0.8 ? id : pick(WRONG),
      op: rnd() < 0.7 ? pick(OPS) : pick(WRONG),
    };
    const a: Record<string, unknown> = {};
    for (const key of [
      "name",
      "key",
      "t",
      "ppm",
      "bias",
      "force",
      "alg",
      "digits",
      "period",
      "touch",
      "confirm",
      "pin",
      "next",
      "idle",
      "zz",
    ]) {
      if (rnd() < 0.3) a[key] = pick(WRONG);
    }
    o.a = rnd() < 0.9 ? a : pick(WRONG);
    line = JSON.stringify(o);
  } else if (k < 0.48) {
    line = "{" + "x".repeat(MAX_REQUEST_LINE + Math.floor(rnd() * 3000)) + "}";
  } else if (k < 0.58) {
    // prototype keys, at the top and inside the arguments, also as raw text JSON.parse may treat specially
    const key = pick(["__proto__", "constructor", "prototype", "hasOwnProperty"]);
    line =
      rnd() < 0.5
        ? '{"v":1,"id":' + id + ',"op":"code","a":{"' + key + '":{"name":"a"}}}'
        : '{"' + key + '":{"v":1,"id":' + id + ',"op":"list"},"v":1,"id":' + id + ',"op":"hello","a":{"' + key + '":[1]}}';
  } else if (k < 0.64) {
    const depth = 1 + Math.floor(rnd() * 60);
    line = '{"v":1,"id":' + id + ',"op":"code","a":' + "[".repeat(depth) + "]".repeat(depth) + "}";
  } else if (k < 0.7) {
    // lenient JSON forms Espruino's parser accepts and V8 does not; duplicate keys (the first wins on Espruino)
    line = pick([
      '{"v":1,"id":' + id + ",'op':'hello'}",
      '{"v":1,"id":' + id + ',"op":"hello",}',
      '{"v":1,"id":0x10,"op":"time"}',
      '{"v":1,"id":' +
        id +
        ',"op":"list","op":"wipe","a":{"confirm":"wipe"}}'.replace('"op":"list","op":"wipe"', '"op":"hello","op":"hello"'),
      '{"v":1,"id":' + id + ',"op":"time"} trailing',
    ]);
  } else {
    // interleaved valid requests that change nothing
    const op = pick(["hello", "time", "list", "code", "code"]);
    line = JSON.stringify({ v: 1, id, op, a: op === "code" && rnd() < 0.5 ? { name: "a" } : {} });
    valid = true;
  }
  // the reader strips one trailing \r and ignores empty lines: keep every line answerable
  if (line.replace(/\r$/, "").length === 0) line = "z";
  return { line, valid };
}

export interface FuzzResult {
  frames: number;
  replies: number;
  validOk: number;
  ms: number;
}

/** Sends n fuzz lines to the emulator in batches, checking one reply per line. */
export async function runFuzz(emu: Emulator, n: number, seed: number, batch = 40): Promise<FuzzResult> {
  const rnd = seeded(seed);
  const replies: Reply[] = [];
  let buf = "";
  let waiting: (() => void) | null = null;
  let want = 0;
  const off = emu.onData((s) => {
    buf += s;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const l = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      const r = parseReply(l);
      if (r) replies.push(r);
      nl = buf.indexOf("\n");
    }
    if (waiting && replies.length >= want) waiting();
  });
  const t0 = performance.now();
  let validOk = 0;
  let id = 1;
  try {
    for (let sent = 0; sent < n;) {
      const m = Math.min(batch, n - sent);
      const lines: string[] = [];
      const valid = new Map<number, boolean>();
      for (let i = 0; i < m; i++) {
        const f = fuzzLine(rnd, id);
        if (f.valid) valid.set(id, true);
        id++;
        lines.push(f.line);
      }
      replies.length = 0;
      want = m;
      const got = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("fuzz: " + replies.length + " replies to " + m + " lines (seed " + seed + ", from frame " + sent + ")")),
          20000,
        );
        waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      // split the batch at random points, as a serial link does
      const text = lines.join("\n") + "\n";
      for (let p = 0; p < text.length;) {
        const q = Math.min(text.length, p + 1 + Math.floor(rnd() * 400));
        emu.write(text.slice(p, q));
        p = q;
      }
      if (replies.length < m) await got;
      else waiting = null;
      waiting = null;
      // give the device a moment: a line more than asked would show here
      await new Promise((r) => setImmediate(r));
      if (replies.length !== m)
        throw new Error("fuzz: " + replies.length + " replies to " + m + " lines (seed " + seed + ", from frame " + sent + ")");
      for (const r of replies) if (r.id !== null && valid.has(r.id) && r.ok) validOk++;
      sent += m;
    }
  } finally {
    off();
  }
  return { frames: n, replies: n, validOk, ms: performance.now() - t0 };
}
