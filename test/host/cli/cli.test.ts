// The real hwtotp binary as a subprocess against the real firmware in the emulator over TCP: every add
// form, list without secrets, codes equal to otpauth's, delete, --json shapes, exec, and bad input (malformed
// secret, unknown slot, bad URI, missing device, full device) leaving the slots unchanged.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, type CliResult, ensureHostBuilt, hasScript, privateEnv, runCli } from "../../harness/cli-harness.ts";
import { type EmuTarget, startEmu } from "../../harness/emulator-harness.ts";
import { startFakeDevice } from "../../harness/fake-device.ts";

const B32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const HEX = "48656c6c6f21deadbeef48656c6c6f21deadbeef";
let target: EmuTarget;
let env: NodeJS.ProcessEnv;
let tmp: string;

beforeAll(async () => {
  await ensureHostBuilt();
  // A user who confirms deletes (a press each); touch codes are pressed by their own tests.
  target = await startEmu({ board: "pico", autoPress: (p) => !p.what.startsWith("code of slot") });
  env = privateEnv({ HWTOTP_DEVICE: target.address });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-cli-t-"));
});
afterAll(async () => {
  await target.stop();
});

const cli = (args: string[], input?: string) => runCli(args, { env, input });
const slots = async () => JSON.stringify((await target.inspect()).slots);
const names = async () => (await target.inspect()).slots.map((s) => s.name).sort();
const secretsIn = (r: CliResult) => [B32, B32.toLowerCase(), HEX, HEX.toUpperCase()].some((s) => (r.stdout + r.stderr).includes(s));

/** The slot's code from the CLI equals otpauth's for the seed we gave, at the device's time. */
async function expectCodeFor(name: string, secret: OTPAuth.Secret, o: { digits?: number; period?: number; algorithm?: string } = {}) {
  const r = await cli(["code", name, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  const d = JSON.parse(r.stdout);
  const otp = new OTPAuth.TOTP({ secret, digits: o.digits ?? 6, period: o.period ?? 30, algorithm: o.algorithm ?? "SHA1" });
  expect(d.codes[0].code).toBe(otp.generate({ timestamp: d.t * 1000 }));
}

describe("hwtotp add (against the emulator)", () => {
  it("takes --secret as an argument, normalising case, spaces and padding", async () => {
    const r = await cli(["add", "arg", "--secret", B32.toLowerCase().replace(/(.{4})/g, "$1 ") + "===="]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/Added slot "arg" \(SHA1, 6 digits, 30 s\)/);
    await expectCodeFor("arg", OTPAuth.Secret.fromBase32(B32));
  });
  it("says the command-line note once, after the slot is stored", async () => {
    const r = await cli(["add", "argnote", "--hex", HEX]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^Added slot "argnote"/),
      expect.stringMatching(/^Note: a secret given on the command line/),
    ]);
    expect(secretsIn(r)).toBe(false);
    expect(await cli(["delete", "argnote"])).toMatchObject({ code: 0 });
  });
  it("takes --secret - from stdin", async () => {
    const r = await cli(["add", "stdin", "--secret", "-"], B32 + "\n");
    expect(r.code, r.stderr).toBe(0);
    expect(secretsIn(r)).toBe(false);
    await expectCodeFor("stdin", OTPAuth.Secret.fromBase32(B32));
  });
  it("takes --hex @FILE with digits, period and algorithm", async () => {
    const f = path.join(tmp, "seed.hex");
    fs.writeFileSync(f, HEX, { mode: 0o600 });
    const r = await cli(["add", "file", "--hex", "@" + f, "--digits", "8", "--period", "60", "--algorithm", "sha256"]);
    expect(r.code, r.stderr).toBe(0);
    expect(secretsIn(r)).toBe(false);
    await expectCodeFor("file", OTPAuth.Secret.fromHex(HEX), { digits: 8, period: 60, algorithm: "SHA256" });
  });
  it("takes --uri and names the slot from its label", async () => {
    const uri = "otpauth://totp/Keystone:alice?secret=" + B32 + "&issuer=Keystone&digits=8";
    const r = await cli(["add", "--uri", "-", "--json"], uri);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ slot: { name: "Keystone:alice", alg: "SHA1", digits: 8, period: 30, touch: false } });
    expect(secretsIn(r)).toBe(false);
    await expectCodeFor("Keystone:alice", OTPAuth.Secret.fromBase32(B32), { digits: 8 });
  });
  it.runIf(hasScript)("prompts for --secret on a terminal without echoing it (util-linux script gives the pty)", async () => {
    const child = spawn(
      "script",
      ["-qec", [process.execPath, BIN, "add", "prompted", "--secret"].map((a) => "'" + a + "'").join(" "), "/dev/null"],
      {
        env,
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      if (out.includes("Base32 secret: ") && !child.stdin.writableEnded) child.stdin.end(B32.toLowerCase() + "\r");
    });
    const code = await new Promise((r) => child.on("close", r));
    expect(code, out).toBe(0);
    expect(out).toMatch(/Base32 secret: \r?\n/);
    expect(out).toMatch(/Added slot "prompted"/);
    expect(out.toUpperCase()).not.toContain(B32);
    await expectCodeFor("prompted", OTPAuth.Secret.fromBase32(B32));
  });
  it("--generate prints the otpauth URI once, and --qr-png writes a 0600 PNG", async () => {
    const png = path.join(tmp, "qr.png");
    const r = await cli(["add", "gen", "--generate", "--qr-png", png]);
    expect(r.code, r.stderr).toBe(0);
    const uris = r.stdout.match(/otpauth:\/\/\S+/g)!;
    expect(uris).toHaveLength(1);
    expect(r.stderr).not.toMatch(/otpauth:|secret=/);
    const otp = OTPAuth.URI.parse(uris[0]) as OTPAuth.TOTP;
    expect(otp.secret.bytes.length).toBe(20);
    await expectCodeFor("gen", otp.secret);
    expect(fs.readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
    expect(fs.statSync(png).mode & 0o777).toBe(0o600);
  });
  it("--generate --json carries the URI in the document", async () => {
    const r = await cli(["add", "genjson", "--generate", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.slot.name).toBe("genjson");
    expect(d.uri).toMatch(/^otpauth:\/\/totp\/hwtotp:genjson\?secret=[A-Z2-7]{32}&issuer=hwtotp&algorithm=SHA1&digits=6&period=30$/);
  });
  it("--qr prints half-block art on stdout and no secret in text", async () => {
    const r = await cli(["add", "qr", "--secret", "-", "--qr"], B32);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[\u2580\u2584\u2588 \n]+$/);
    expect(secretsIn(r)).toBe(false);
  });
});

describe("hwtotp list / code / delete / info", () => {
  it("lists names and parameters, never a secret", async () => {
    const r = await cli(["list", "--json"]);
    expect(r.code).toBe(0);
    const l = JSON.parse(r.stdout);
    expect(l.slots.map((s: { name: string }) => s.name).sort()).toEqual(await names());
    expect(l.max).toBe(32);
    for (const s of l.slots) for (const k of Object.keys(s)) expect(["alg", "digits", "name", "period", "touch", "serial"]).toContain(k);
    const human = await cli(["list"]);
    expect(secretsIn(human) || secretsIn(r)).toBe(false);
    expect(human.stdout).toMatch(/file\s+SHA256\s+8 digits\s+60 s/);
  });
  it("prints the code alone on stdout and the time left on stderr", async () => {
    const plain = await cli(["code", "arg"]);
    expect(plain.stdout.trim()).toMatch(/^\d{6}$/);
    expect(plain.stderr).toMatch(/arg: \d+ s left \(step \d+\)/);
  });
  it("shows every slot's code without a name, with the same shape in JSON", async () => {
    const r = await cli(["code", "--json"]);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.codes.length).toBe((await names()).length);
    for (const c of d.codes)
      expect(Object.keys(c).sort()).toEqual(expect.arrayContaining(["code", "left", "name", "period", "step", "touch"]));
    expect(d.via).toBe("direct");
  });
  it("deletes a slot", async () => {
    expect((await cli(["add", "gone", "--hex", "-"], HEX)).code).toBe(0);
    const r = await cli(["delete", "gone", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: "gone" });
    expect(await names()).not.toContain("gone");
  });
  it("takes the common options before the command too", async () => {
    const r = await runCli(["--device", target.address, "--json", "info"], { env: privateEnv() });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ via: "direct", address: target.address });
  });
  it("devices reports ports, $HWTOTP_DEVICE and the daemon as JSON", async () => {
    const r = await cli(["devices", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ candidates: expect.any(Array), env: target.address, daemon: { running: false } });
  });
  it("info reports firmware, board and slots as JSON", async () => {
    const r = await cli(["info", "--json"]);
    expect(JSON.parse(r.stdout)).toMatchObject({
      proto: 1,
      via: "direct",
      slots: { max: 32 },
      board: expect.any(String),
      fw: expect.any(String),
    });
  });
});

describe("bad input: one sentence, non-zero exit, slots unchanged", () => {
  const cases: [string, string[], string | undefined, number, RegExp][] = [
    ["a malformed secret", ["add", "bad", "--secret", "-"], "JBSWY3DPEHPK3PX1", 2, /not valid base32: character 16/],
    ["a short hex key", ["add", "bad", "--hex", "-"], "abcd", 2, /2 bytes/],
    ["a bad URI", ["add", "--uri", "-"], "otpauth://totp/x?secret=" + B32 + "&digits=7", 2, /7 digits/],
    ["an HOTP URI", ["add", "--uri", "-"], "otpauth://hotp/x?secret=" + B32 + "&counter=0", 2, /HOTP/],
    ["a URI with an unknown parameter", ["add", "--uri", "-"], "otpauth://totp/x?secret=" + B32 + "&foo=1", 2, /"foo" is not supported/],
    ["two secret sources", ["add", "bad", "--generate", "--hex", "-"], HEX, 2, /only one of/],
    ["no secret source", ["add", "bad"], undefined, 2, /Give the secret/],
    ["a name too long", ["add", "x".repeat(33), "--generate"], undefined, 2, /1 to 32 characters/],
    ["SHA512 on a Pico", ["add", "big", "--generate", "-a", "SHA512"], undefined, 2, /cannot compute SHA512/],
    ["an existing name", ["add", "arg", "--secret", "-"], B32, 6, /exists/],
    ["an unknown slot (code)", ["code", "nope"], undefined, 5, /nope.*`hwtotp list` shows the slots\./],
    ["an unknown slot (delete)", ["delete", "nope"], undefined, 5, /nope/],
    ["an unknown option", ["list", "--bogus"], undefined, 2, /Unknown option '--bogus'/],
    [
      "a PNG path in a missing folder",
      ["add", "q5", "--generate", "--qr-png", "/nonexistent/dir/x.png"],
      undefined,
      2,
      /^hwtotp: Cannot write the QR code to \/nonexistent\/dir\/x\.png: no such folder\.$/m,
    ],
    ["a PNG path that is a folder", ["add", "q6", "--secret", "-", "--qr-png", os.tmpdir()], B32, 2, /: it is a folder\./],
    ["a URI refused before any note", ["add", "--uri", "http://x"], undefined, 2, /^hwtotp: The URI must start with otpauth:\/\/\.$/m],
    [
      "an MD5 URI",
      ["add", "--uri", "-"],
      "otpauth://totp/x?secret=" + B32 + "&algorithm=MD5",
      2,
      /The URI's algorithm "MD5" is not supported: use SHA1, SHA256 or SHA512\./,
    ],
    [
      "digits=abc in a URI",
      ["add", "--uri", "-"],
      "otpauth://totp/x?secret=" + B32 + "&digits=abc",
      2,
      /digits "abc" is not a number: use 6 or 8\./,
    ],
    [
      "period=30s in a URI",
      ["add", "--uri", "-"],
      "otpauth://totp/x?secret=" + B32 + "&period=30s",
      2,
      /period "30s" is not allowed: use a whole number of seconds from 1 to 300\./,
    ],
  ];
  // None of these may change a slot, so they run side by side; each compares the slots with the same snapshot.
  let before: Promise<string>;
  beforeAll(() => {
    before = slots();
  });
  it.concurrent.each(cases)("%s", async (_what, args, input, exit, msg) => {
    const r = await cli(args, input);
    expect(r.code).toBe(exit);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toBe("");
    expect(secretsIn(r)).toBe(false);
    expect(await slots()).toBe(await before);
  });

  it("a refused add with --qr-png leaves no PNG (nor its temporary file) behind", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "png-"));
    const r = await cli(["add", "arg", "--secret", "-", "--qr", "--qr-png", path.join(dir, "exists.png")], B32);
    expect(r.code).toBe(6);
    expect(r.stdout).toBe("");
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("a refused --uri from argv says one sentence, without the command-line note", async () => {
    const r = await cli(["add", "--uri", "otpauth://totp/x?secret=" + B32 + "&digits=7"]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/Note:/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a full device refuses with E_FULL, prints no URI, and keeps its slots", async () => {
    const s = await target.session();
    let i = 0;
    while ((await s.list()).slots.length < 32) await s.add({ name: "fill" + i++, key: HEX });
    const before = await slots();
    const r = await cli(["add", "onemore", "--generate", "--json"]);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "E_FULL", exit: 6 } });
    expect(r.stdout + r.stderr).not.toMatch(/otpauth:/);
    expect(await slots()).toBe(before);
    for (const n of (await s.list()).slots.map((x) => x.name).filter((x) => x.startsWith("fill"))) await s.delete(n);
    await s.close();
  });

  it("a missing device is exit 3 with the address in the sentence", async () => {
    const r = await runCli(["list"], { env: privateEnv({ HWTOTP_DEVICE: "tcp://127.0.0.1:1" }) });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^hwtotp: Cannot connect to tcp:\/\/127\.0\.0\.1:1: nothing is listening there\.\n$/);
  });
});

describe("add when the PNG cannot be put in place after the slot is stored", () => {
  // The fake device front makes the target path a folder while the firmware behind it stores the slot, so the
  // rename fails after the store; it answers the delete with E_STORAGE when the test says so. A board without a
  // button (the Linux build) deletes without a press, so stderr holds the one sentence.
  async function setup(failDelete: boolean) {
    const emu = await startEmu({ board: "linux" });
    const dev = Object.assign(await startFakeDevice({ behind: emu.emu }), { emu });
    const dir = fs.mkdtempSync(path.join(tmp, "late-"));
    const png = path.join(dir, "qr.png");
    dev.hook = (op) => {
      if (op === "add") fs.mkdirSync(png);
      if (op === "delete" && failDelete) return "E_STORAGE";
    };
    return { dev, dir, png, env: privateEnv({ HWTOTP_DEVICE: dev.address }) };
  }
  it("deletes the slot again: exit 2, one sentence, token unchanged, no URI", async () => {
    const { dev, dir, png, env } = await setup(false);
    try {
      const r = await runCli(["add", "late", "--generate", "--qr-png", png], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        "hwtotp: Cannot write the QR code to " + png + ": it is a folder; the slot was deleted again, the token is unchanged.\n",
      );
      expect(r.stdout).toBe("");
      expect((await dev.emu.inspect()).slots).toHaveLength(0);
      expect(fs.readdirSync(dir)).toEqual(["qr.png"]);
    } finally {
      await dev.close();
      await dev.emu.stop();
    }
  });
  it.each([false, true])("when deleting fails too, the slot stays and its generated URI is shown (json: %s), exit 1", async (json) => {
    const { dev, dir, png, env } = await setup(true);
    try {
      const r = await runCli(["add", "late", "--generate", "--qr-png", png, ...(json ? ["--json"] : [])], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^hwtotp: Cannot write the QR code to .*: it is a folder, and deleting the slot again failed \(.*\): slot "late" stays on the token; its otpauth URI is on stdout/,
      );
      const uri = json ? JSON.parse(r.stdout).uri : r.stdout.trim();
      if (json) expect(JSON.parse(r.stdout).error).toMatchObject({ code: "E_PARTIAL", exit: 1 });
      const otp = OTPAuth.URI.parse(uri) as OTPAuth.TOTP;
      const stored = dev.requests.map((l) => JSON.parse(l)).find((q) => q.op === "add" && q.a.name === "late");
      expect((await dev.emu.inspect()).slots.map((x) => x.name)).toEqual(["late"]);
      expect(Buffer.from(otp.secret.bytes).equals(Buffer.from(stored.a.key, "hex"))).toBe(true);
      expect(r.stderr).not.toMatch(/otpauth:\/\//);
      expect(fs.readdirSync(dir)).toEqual(["qr.png"]);
    } finally {
      await dev.close();
      await dev.emu.stop();
    }
  });
});

describe("usage errors: no value echoed, --json honoured", () => {
  const SECRET = "JBSWY3DPEHPK3PXP";
  const cases: [string, string[], RegExp][] = [
    [
      "an unknown --opt=VALUE keeps the name and the hint",
      ["add", "x", "--secre=" + SECRET],
      /^hwtotp: Unknown option '--secre=…' \(Did you mean --secret\?\)$/,
    ],
    ["an unknown short option with its value attached", ["add", "x", "-z" + SECRET], /^hwtotp: Unknown option '-z…'\.$/],
    ["a secret typed as the command", [SECRET.toLowerCase()], /^hwtotp: Unknown command '…'\.$/],
    ["an excess argument", ["add", "x", SECRET], /^hwtotp: Too many arguments for 'add'\. Expected 1 argument but got 2\.$/],
    ["an excess argument to code", ["code", "a", SECRET], /^hwtotp: Too many arguments for 'code'/],
  ];
  it.concurrent.each(cases)("%s", async (_what, args, msg) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(msg);
    expect(r.stdout + r.stderr).not.toMatch(new RegExp(SECRET, "i"));
    expect(r.stdout).toBe("");
  });
  const jsonCases: [string[], RegExp][] = [
    [["info", "--bogus", "--json"], /Unknown option '--bogus'/],
    [["bogus", "--json"], /Unknown command 'bogus'/],
    [["exec", "--name", "a1", "--json"], /Missing required argument 'command'/],
    [["code", "--json", "a", "b"], /Too many arguments for 'code'/],
    [["--json", "add", "x", "--secre=" + SECRET], /Unknown option '--secre=…' \(Did you mean --secret\?\)/],
    [["--json"], /Give a command/],
  ];
  it.concurrent.each(jsonCases)("%j prints the error document on stdout, exit 2", async (args, msg) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    const d = JSON.parse(r.stdout);
    expect(d).toEqual({ error: { code: "E_USAGE", message: expect.stringMatching(msg), exit: 2 } });
    expect(r.stderr).toContain("hwtotp: " + d.error.message);
    expect(r.stdout).not.toContain(SECRET);
  });
  it("help and --version still exit 0 without an error document", async () => {
    expect(await cli(["add", "--help", "--json"])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: hwtotp add/) });
    expect((await cli(["--version"])).code).toBe(0);
  });
});

describe("hwtotp exec", () => {
  it("passes OS_PASSCODE in the environment only, with stdio and exit code", async () => {
    const probe = path.join(tmp, "probe.cjs");
    fs.writeFileSync(
      probe,
      "const c=process.env.OS_PASSCODE;const fs=require('fs');" +
        "fs.writeFileSync(process.argv[2], c);process.stdout.write('got '+c.length+' digits, args " +
        "'+JSON.stringify(process.argv.slice(3)));" +
        "const i=fs.readFileSync(0,'utf8');process.stderr.write('stdin='+i);process.exit(7)",
    );
    const out = path.join(tmp, "passcode.txt");
    const r = await cli(["exec", "--name", "arg", "--", process.execPath, probe, out, "--flag", "x"], "hello");
    expect(r.code, r.stderr).toBe(7);
    expect(r.stdout).toBe('got 6 digits, args ["--flag","x"]');
    expect(r.stderr).toContain("stdin=hello");
    const code = fs.readFileSync(out, "utf8");
    const otp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) });
    expect(otp.validate({ token: code, window: 1 })).not.toBeNull();
    expect(r.stdout + r.stderr).not.toContain(code);
  });
  it("asks for --name when there are several slots", async () => {
    const r = await cli(["exec", "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pick one with --name/);
  });
  it("reports a missing command like a shell (127)", async () => {
    const r = await cli(["exec", "-n", "arg", "--", "/nonexistent/cmd"]);
    expect(r.code).toBe(127);
  });
});

describe("touch slots", () => {
  it("wait for the button: a press releases the code, none gives E_TOUCH (exit 8)", async () => {
    expect((await cli(["add", "touchy", "--secret", "-", "--touch"], B32)).code).toBe(0);
    const all = JSON.parse((await cli(["code", "--json"])).stdout);
    expect(all.codes.find((c: { name: string }) => c.name === "touchy")).toMatchObject({ touch: true, code: null });
    const pressed = cli(["code", "touchy", "--json"]);
    await new Promise((r) => setTimeout(r, 900));
    target.emu.control.pressButton(100);
    const r = await pressed;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^press the button to confirm: code of slot touchy$/m);
    expect(r.stderr).not.toMatch(/Waiting for the device/); // the device's notice replaces the host's guess
    const d = JSON.parse(r.stdout);
    expect(d.codes[0].code).toBe(new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) }).generate({ timestamp: d.t * 1000 }));
    const ignored = cli(["code", "touchy"]);
    await new Promise((r) => setTimeout(r, 900));
    target.emu.control.advance(20);
    const n = await ignored;
    expect(n.code).toBe(8);
    expect(n.stdout).toBe("");
    expect(await cli(["delete", "touchy"])).toMatchObject({ code: 0 });
  });
});

describe("a board without the firmware", () => {
  it("is recognised as a plain Espruino REPL: exit 4 and a sentence saying to flash", async () => {
    const fresh = await startEmu({ flashed: false });
    try {
      const r = await runCli(["info", "--json"], { env: privateEnv({ HWTOTP_DEVICE: fresh.address }) });
      expect(r.code).toBe(4);
      expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "E_REPL", exit: 4 } });
      expect(r.stderr).toMatch(/is a plain Espruino REPL without hwtotp firmware\. Install it with `hwtotp flash --port tcp:/);
    } finally {
      await fresh.stop();
    }
  });
});

describe("a board whose clock was never set", () => {
  it("refuses codes with exit 7 and says how to set it; time sync fixes it", async () => {
    const unset = await startEmu({ clock: 0, autoPress: true });
    const env0 = privateEnv({ HWTOTP_DEVICE: unset.address });
    try {
      expect((await runCli(["add", "c", "--secret", "-"], { env: env0, input: B32 })).code).toBe(0);
      const r = await runCli(["code", "c"], { env: env0 });
      expect(r.code).toBe(7);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(
        /run `hwtotp time sync --force` and press the device's button \(a token holding slots needs the press\)\.$/m,
      );
      // with a slot on it, setting the unset clock is a jump: --force and a press
      const refused = await runCli(["time", "sync"], { env: env0 });
      expect(refused.code).toBe(7);
      expect(refused.stderr).toMatch(/lost its clock.*`hwtotp time sync --force` and press the button/);
      const sync = await runCli(["time", "sync", "--force"], { env: env0 });
      expect(sync.code, sync.stderr).toBe(0);
      expect(sync.stderr).toMatch(/^hold the button for 2 s to confirm: setting the lost clock$/m);
      const ok = await runCli(["code", "c", "--json"], { env: env0 });
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await unset.stop();
    }
  });
});
