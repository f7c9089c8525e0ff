// Wire protocol v1 (protocol/index.ts): every op round-trips through encode → line reader → parse; input split
// any way (down to 1-char chunks) gives the same lines; garbage, half lines, oversize lines, wrong types and
// unknown ops each give the right error and leave the decoder usable.
import { describe, expect, it } from "vitest";
import {
  ERR,
  LIMITS,
  MAX_REQUEST_LINE,
  OPS,
  PROTOCOL_VERSION,
  createLineReader,
  encodeError,
  encodeOk,
  encodePress,
  encodeRequest,
  parsePress,
  parseReply,
  parseRequest,
  validateArgs,
} from "../../protocol/index";

const KEY = "3132333435363738393031323334353637383930";

// One valid request per op (and the reply data the firmware sends for it).
const REQUESTS: [string, Record<string, unknown>, Record<string, unknown>][] = [
  [
    OPS.HELLO,
    {},
    {
      fw: "0.1.0",
      proto: 1,
      board: "PICO",
      algs: ["SHA1", "SHA256"],
      slots: { used: 1, max: 32 },
      clock: { set: true, t: 1.7e9, raw: 1.7e9, ppm: 0, synced: null, samples: 0 },
      heap: { free: 4000, usage: 1100, total: 5100 },
    },
  ],
  [OPS.TIME, {}, { set: true, t: 1700000000.25, raw: 1700000000.5, ppm: 12.5, synced: 1699990000, samples: 3 }],
  [
    OPS.SET_TIME,
    { t: 1700000000.5, ppm: -40, force: true, bias: 1.5, samples: 4, err: 2 },
    { prev: 1699999990, t: 1700000000.5, jump: false },
  ],
  [
    OPS.ADD,
    { name: "cloud admin", key: KEY, alg: "SHA256", digits: 8, period: 60, touch: true, serial: "TOTP01" },
    { slot: { name: "cloud admin", alg: "SHA256", digits: 8, period: 60, touch: true, serial: "TOTP01" } },
  ],
  [OPS.LIST, {}, { slots: [{ name: "a", alg: "SHA1", digits: 6, period: 30, touch: false }], max: 32 }],
  [OPS.DELETE, { name: "a" }, { name: "a" }],
  [OPS.CODE, { name: "a" }, { t: 1700000000, codes: [{ name: "a", code: "123456", step: 56666666, left: 20, period: 30, touch: false }] }],
  [OPS.CODE, {}, { t: 1700000000, codes: [{ name: "t", code: null, step: 56666666, left: 20, period: 30, touch: true }] }],
  [OPS.WIPE, { confirm: "wipe" }, { slots: 3 }],
  [OPS.UNLOCK, { pin: "1234" }, { set: true, locked: false, tries: 8, idle: 0 }],
  [OPS.LOCK, {}, { set: true, locked: true, tries: 8, idle: 0 }],
  [OPS.PIN, { next: "correct horse battery", idle: 600 }, { set: true, locked: false, tries: 8, idle: 600 }],
  [OPS.PIN, { pin: "1234", next: "5678" }, { set: true, locked: false, tries: 8, idle: 0 }],
  [OPS.PIN, { pin: "1234" }, { set: false, locked: false, tries: 8, idle: 0 }],
];

function collect(max = MAX_REQUEST_LINE) {
  const lines: string[] = [];
  let oversize = 0;
  const r = createLineReader(
    max,
    (l) => lines.push(l),
    () => oversize++,
  );
  return {
    r,
    lines,
    get oversize() {
      return oversize;
    },
  };
}

describe("protocol round trips", () => {
  it("covers every op", () => {
    const ops = new Set(REQUESTS.map((r) => r[0]));
    expect([...ops].sort()).toEqual(Object.values(OPS).sort());
  });

  it.each(REQUESTS.map((r, i) => [r[0] + " #" + i, ...r] as const))(
    "%s: request and reply survive encode → reader → parse",
    (_n, op, a, d) => {
      const c = collect();
      c.r.push(encodeRequest(41, op, a));
      expect(c.lines).toHaveLength(1);
      const p = parseRequest(c.lines[0]);
      expect(p).toEqual({ ok: true, req: { id: 41, op, a } });

      const rc = collect(8192);
      rc.r.push(encodeOk(41, d));
      expect(parseReply(rc.lines[0])).toEqual({ id: 41, ok: true, d });
      rc.r.push(encodeError(41, ERR.NOSLOT, "No slot named a."));
      expect(parseReply(rc.lines[1])).toEqual({ id: 41, ok: false, e: ERR.NOSLOT, m: "No slot named a." });
    },
  );

  it("a frame is one line of JSON carrying the protocol version", () => {
    const f = encodeRequest(1, OPS.HELLO);
    expect(f.endsWith("\n")).toBe(true);
    expect(f.indexOf("\n")).toBe(f.length - 1);
    expect(JSON.parse(f)).toEqual({ v: PROTOCOL_VERSION, id: 1, op: "hello", a: {} });
  });
});

describe("line reader", () => {
  const stream = REQUESTS.map((r, i) => encodeRequest(i, r[0], r[1])).join("");

  it("gives the same lines however the input is split (1-char chunks, random chunks, one chunk)", () => {
    const whole = collect();
    whole.r.push(stream);
    const ones = collect();
    for (const ch of stream) ones.r.push(ch);
    expect(ones.lines).toEqual(whole.lines);
    let seed = 7;
    for (let round = 0; round < 50; round++) {
      const c = collect();
      for (let i = 0; i < stream.length;) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const n = 1 + (seed % 37);
        c.r.push(stream.substring(i, i + n));
        i += n;
      }
      expect(c.lines).toEqual(whole.lines);
    }
    expect(whole.lines).toHaveLength(REQUESTS.length);
  });

  it("strips \\r before \\n and ignores empty lines", () => {
    const c = collect();
    c.r.push('\n\r\n{"a":1}\r\n\n');
    expect(c.lines).toEqual(['{"a":1}']);
  });

  it("keeps a half line until its end arrives; reset() drops it", () => {
    const c = collect();
    c.r.push('{"v":1,"id":1,');
    expect(c.lines).toEqual([]);
    c.r.push('"op":"hello"}\n');
    expect(c.lines).toHaveLength(1);
    c.r.push('{"v":1,"id":2,');
    c.r.reset();
    c.r.push('{"v":1,"id":3,"op":"hello"}\n');
    expect(c.lines.map((l) => JSON.parse(l).id)).toEqual([1, 3]);
  });

  it("drops an oversize line (reported once) without buffering it, then reads on", () => {
    for (const chunk of [1, 7, 600, 5000]) {
      const c = collect();
      const big = "x".repeat(MAX_REQUEST_LINE * 3) + "\n" + encodeRequest(5, OPS.HELLO);
      for (let i = 0; i < big.length; i += chunk) c.r.push(big.substring(i, i + chunk));
      expect(c.oversize, "chunk " + chunk).toBe(1);
      expect(c.lines).toEqual([encodeRequest(5, OPS.HELLO).trim()]);
    }
    const c = collect();
    c.r.push("y".repeat(MAX_REQUEST_LINE) + "\n");
    c.r.push("y".repeat(MAX_REQUEST_LINE + 1) + "\n");
    expect(c.lines).toHaveLength(1);
    expect(c.oversize).toBe(1);
  });
});

describe("request errors", () => {
  const E: [string, string, number | null, string][] = [
    ["garbage", "hello there", null, ERR.FRAME],
    ["half a JSON object", '{"v":1,"id":2,"op":"hel', null, ERR.FRAME],
    ["JSON that is not an object", "[1,2,3]", null, ERR.FRAME],
    ["a JSON string", '"hello"', null, ERR.FRAME],
    ["missing id", '{"v":1,"op":"hello"}', null, ERR.FRAME],
    ["negative id", '{"v":1,"id":-1,"op":"hello"}', null, ERR.FRAME],
    ["fractional id", '{"v":1,"id":1.5,"op":"hello"}', null, ERR.FRAME],
    ["string id", '{"v":1,"id":"1","op":"hello"}', null, ERR.FRAME],
    ["other protocol version", '{"v":2,"id":3,"op":"hello"}', 3, ERR.VERSION],
    ["missing version", '{"id":3,"op":"hello"}', 3, ERR.VERSION],
    ["op not a string", '{"v":1,"id":4,"op":7}', 4, ERR.FRAME],
    ["unknown op", '{"v":1,"id":5,"op":"format"}', 5, ERR.OP],
    ["arguments not an object", '{"v":1,"id":6,"op":"hello","a":[]}', 6, ERR.ARG],
    ["unknown argument", '{"v":1,"id":7,"op":"hello","a":{"x":1}}', 7, ERR.ARG],
    ["argument named like an Object method", '{"v":1,"id":7,"op":"code","a":{"toString":1}}', 7, ERR.ARG],
    // refused before parsing: Espruino's JSON.parse makes __proto__ the prototype, and a lookup through a
    // non-object prototype kills the real interpreter
    ["argument named __proto__", '{"v":1,"id":7,"op":"delete","a":{"name":"a","__proto__":[1]}}', null, ERR.FRAME],
    ["a __proto__ that is not an object", '{"__proto__":1,"v":1,"id":8,"op":"time"}', null, ERR.FRAME],
    ["a null __proto__ inside the arguments", '{"v":1,"id":9,"op":"code","a":{"name":{"__proto__":null}}}', null, ERR.FRAME],
    ["__proto__ spelt with escapes", '{"v":1,"id":9,"op":"code","a":{"\\u005f_proto__":1}}', null, ERR.FRAME],
    ["argument named constructor", '{"v":1,"id":7,"op":"list","a":{"constructor":[3]}}', 7, ERR.ARG],
    ["name of the wrong type", '{"v":1,"id":8,"op":"delete","a":{"name":5}}', 8, ERR.ARG],
    ["empty name", '{"v":1,"id":8,"op":"delete","a":{"name":""}}', 8, ERR.ARG],
    ["name too long", JSON.stringify({ v: 1, id: 8, op: "code", a: { name: "n".repeat(LIMITS.NAME_MAX + 1) } }), 8, ERR.ARG],
    ["non-ASCII name", JSON.stringify({ v: 1, id: 8, op: "code", a: { name: "caf\u00e9" } }), 8, ERR.ARG],
    ["key not hex", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: "zz".repeat(10) } }), 9, ERR.ARG],
    [
      "key upper-case hex",
      JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: KEY.toUpperCase().replace(/3/g, "A") } }),
      9,
      ERR.ARG,
    ],
    ["key too short", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: "00".repeat(9) } }), 9, ERR.ARG],
    ["key too long", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: "00".repeat(65) } }), 9, ERR.ARG],
    ["odd key length", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: KEY + "0" } }), 9, ERR.ARG],
    ["unknown algorithm", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: KEY, alg: "MD5" } }), 9, ERR.ARG],
    ["7 digits", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: KEY, digits: 7 } }), 9, ERR.ARG],
    ["digits as a string", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: KEY, digits: "6" } }), 9, ERR.ARG],
    ["period 0", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: KEY, period: 0 } }), 9, ERR.ARG],
    ["period 301", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: KEY, period: 301 } }), 9, ERR.ARG],
    ["fractional period", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: KEY, period: 30.5 } }), 9, ERR.ARG],
    ["touch not boolean", JSON.stringify({ v: 1, id: 9, op: "add", a: { name: "a", key: KEY, touch: 1 } }), 9, ERR.ARG],
    ["settime without t", '{"v":1,"id":10,"op":"settime","a":{}}', 10, ERR.ARG],
    ["settime before 2020", '{"v":1,"id":10,"op":"settime","a":{"t":1000}}', 10, ERR.ARG],
    ["settime t as string", '{"v":1,"id":10,"op":"settime","a":{"t":"1700000000"}}', 10, ERR.ARG],
    ["settime absurd ppm", '{"v":1,"id":10,"op":"settime","a":{"t":1700000000,"ppm":5000}}', 10, ERR.ARG],
    ["wipe without confirmation", '{"v":1,"id":11,"op":"wipe","a":{}}', 11, ERR.ARG],
    ["unlock without a PIN", '{"v":1,"id":12,"op":"unlock","a":{}}', 12, ERR.ARG],
    ["a PIN of 3 characters", '{"v":1,"id":12,"op":"unlock","a":{"pin":"123"}}', 12, ERR.ARG],
    ["a PIN of 65 characters", JSON.stringify({ v: 1, id: 12, op: "unlock", a: { pin: "p".repeat(65) } }), 12, ERR.ARG],
    ["a PIN as a number", '{"v":1,"id":12,"op":"unlock","a":{"pin":1234}}', 12, ERR.ARG],
    ["a non-ASCII PIN", JSON.stringify({ v: 1, id: 12, op: "pin", a: { next: "caf\u00e9s" } }), 12, ERR.ARG],
    ["a new PIN too short", '{"v":1,"id":12,"op":"pin","a":{"pin":"1234","next":"12"}}', 12, ERR.ARG],
    ["an idle time over a day", '{"v":1,"id":12,"op":"pin","a":{"next":"1234","idle":86401}}', 12, ERR.ARG],
    ["lock with arguments", '{"v":1,"id":12,"op":"lock","a":{"pin":"1234"}}', 12, ERR.ARG],
  ];

  it.each(E)("%s → %s", (_what, line, id, code) => {
    const p = parseRequest(line);
    expect(p.ok).toBe(false);
    if (!p.ok) {
      expect(p.e).toBe(code);
      expect(p.id).toBe(id);
      expect(p.m.length).toBeGreaterThan(5);
    }
  });

  it("never echoes a PIN in an error sentence", () => {
    for (const pin of ["zq7", "zq7" + "x".repeat(70), "zq7\u00e9xx"]) {
      const p = parseRequest(JSON.stringify({ v: 1, id: 1, op: "pin", a: { pin: "1234", next: pin } }));
      expect(p.ok).toBe(false);
      if (!p.ok) expect(p.m).not.toContain("zq7");
    }
  });

  it("press notices round-trip and are not replies", () => {
    const line = encodePress(7, { what: "delete slot cloud", long: false, ms: 15000 }).trim();
    expect(parsePress(line)).toEqual({ id: 7, press: { what: "delete slot cloud", long: false, ms: 15000 } });
    expect(parseReply(line)).toBeNull();
    expect(parsePress(encodeOk(7, {}).trim())).toBeNull();
  });

  it("an error reply may carry data (E_PIN: tries left)", () => {
    expect(parseReply(encodeError(3, ERR.PIN, "Wrong PIN: 5 tries left.", { tries: 5, wiped: false }).trim())).toEqual({
      id: 3,
      ok: false,
      e: ERR.PIN,
      m: "Wrong PIN: 5 tries left.",
      d: { tries: 5, wiped: false },
    });
  });

  it("never echoes a key in an error sentence", () => {
    const bad = "ab".repeat(70);
    const p = parseRequest(JSON.stringify({ v: 1, id: 1, op: "add", a: { name: "a", key: bad } }));
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.m).not.toContain("abab");
  });

  it("the decoder keeps working after every kind of bad input", () => {
    const c = collect();
    const good = encodeRequest(99, OPS.HELLO);
    const ids: (number | null)[] = [];
    for (const [, line] of E) {
      c.r.push(line + "\n");
      c.r.push("z".repeat(MAX_REQUEST_LINE + 10) + "\n");
      c.r.push(good);
    }
    for (const l of c.lines) {
      const p = parseRequest(l);
      ids.push(p.ok ? p.req.id : null);
    }
    expect(ids.filter((x) => x === 99)).toHaveLength(E.length);
    expect(c.oversize).toBe(E.length);
  });

  it("parseReply ignores lines that are not replies of this protocol", () => {
    for (const l of ["", "garbage", "[]", '{"v":1,"id":1}', '{"v":2,"id":1,"ok":true,"d":{}}', "=undefined", ">"]) {
      expect(parseReply(l), l).toBeNull();
    }
    expect(parseReply('{"v":2,"id":1,"ok":false,"e":"E_VERSION","m":"x"}')).toMatchObject({ ok: false, e: ERR.VERSION });
  });

  it("validateArgs accepts the documented optional arguments and defaults", () => {
    expect(validateArgs(OPS.ADD, { name: "a", key: KEY })).toBeNull();
    expect(validateArgs(OPS.CODE, {})).toBeNull();
    expect(validateArgs(OPS.SET_TIME, { t: 1700000000 })).toBeNull();
  });
});
