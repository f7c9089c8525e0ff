// The real hwtotp binary against a stand-in device over TCP: every add form, list without secrets,
// codes equal to otpauth's, delete, --json shapes, exec, and bad input leaving the slots unchanged.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeDevice, startFakeDevice } from "./fake-device.ts";
import { type CliResult, ensureHostBuilt, privateEnv, runCli } from "./cli-harness.ts";

const B32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const HEX = "48656c6c6f21deadbeef48656c6c6f21deadbeef";
let dev: FakeDevice;
let env: NodeJS.ProcessEnv;
let tmp: string;

beforeAll(async () => {
  await ensureHostBuilt();
  dev = await startFakeDevice({ maxSlots: 8 });
  env = privateEnv({ HWTOTP_DEVICE: dev.address });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-cli-t-"));
});
afterAll(async () => {
  await dev.close();
});

const cli = (args: string[], input?: string) => runCli(args, { env, input });
const slotNames = () => [...dev.slots.keys()].sort();
const secretsIn = (r: CliResult) => [B32, B32.toLowerCase(), HEX].some((s) => (r.stdout + r.stderr).includes(s));

describe("hwtotp add", () => {
  it("takes --secret as an argument, normalising case, spaces and padding", async () => {
    const r = await cli(["add", "arg", "--secret", B32.toLowerCase().replace(/(.{4})/g, "$1 ") + "===="]);
    expect(r.code, r.stderr).toBe(0);
    expect(dev.slots.get("arg")!.key.toString("hex")).toBe(Buffer.from(OTPAuth.Secret.fromBase32(B32).bytes).toString("hex"));
    expect(r.stdout).not.toMatch(/JBSW|jbsw/);
  });
  it("takes --secret - from stdin", async () => {
    const r = await cli(["add", "stdin", "--secret", "-"], B32 + "\n");
    expect(r.code, r.stderr).toBe(0);
    expect(secretsIn(r)).toBe(false);
    expect(dev.slots.has("stdin")).toBe(true);
  });
  it("takes --hex @FILE", async () => {
    const f = path.join(tmp, "seed.hex");
    fs.writeFileSync(f, HEX, { mode: 0o600 });
    const r = await cli(["add", "file", "--hex", "@" + f, "--digits", "8", "--period", "60", "--algorithm", "sha256"]);
    expect(r.code, r.stderr).toBe(0);
    expect(dev.slots.get("file")).toMatchObject({ digits: 8, period: 60, alg: "SHA256" });
    expect(dev.slots.get("file")!.key.toString("hex")).toBe(HEX);
    expect(secretsIn(r)).toBe(false);
  });
  it("takes --uri and names the slot from its label", async () => {
    const uri = "otpauth://totp/Keystone:alice?secret=" + B32 + "&issuer=Keystone&digits=8";
    const r = await cli(["add", "--uri", "-", "--json"], uri);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ slot: { name: "Keystone:alice", alg: "SHA1", digits: 8, period: 30, touch: false } });
    expect(secretsIn(r)).toBe(false);
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
    expect(Buffer.from(otp.secret.bytes).toString("hex")).toBe(dev.slots.get("gen")!.key.toString("hex"));
    expect(fs.readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
    expect(fs.statSync(png).mode & 0o777).toBe(0o600);
  });
  it("--qr prints half-block art that encodes the URI", async () => {
    const r = await cli(["add", "qr", "--secret", "-", "--qr"], B32);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[\u2580\u2584\u2588 \n]+$/);
    expect(r.stdout).not.toContain(B32);
  });
});

describe("hwtotp list / code / delete", () => {
  it("lists names and parameters, never a secret", async () => {
    const r = await cli(["list", "--json"]);
    expect(r.code).toBe(0);
    const l = JSON.parse(r.stdout);
    expect(l.slots.map((s: { name: string }) => s.name).sort()).toEqual(slotNames());
    for (const s of l.slots) expect(Object.keys(s).sort()).toEqual(["alg", "digits", "name", "period", "touch"]);
    const human = await cli(["list"]);
    expect(secretsIn(human) || secretsIn(r)).toBe(false);
    expect(human.stdout).toMatch(/file\s+SHA256\s+8 digits\s+60 s/);
  });
  it("prints the code otpauth computes for the same seed and time", async () => {
    const r = await cli(["code", "arg", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    const otp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) });
    expect(d.codes[0].code).toBe(otp.generate({ timestamp: d.t * 1000 }));
    expect(d).toMatchObject({ via: "direct", codes: [{ name: "arg", period: 30, touch: false }] });
    const plain = await cli(["code", "arg"]);
    expect(plain.stdout.trim()).toMatch(/^\d{6}$/);
    expect(plain.stderr).toMatch(/arg: \d+ s left/);
  });
  it("shows every slot's code without a name", async () => {
    const r = await cli(["code"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(dev.slots.size);
  });
  it("deletes a slot", async () => {
    await cli(["add", "gone", "--hex", "-"], HEX);
    const r = await cli(["delete", "gone", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: "gone" });
    expect(dev.slots.has("gone")).toBe(false);
  });
  it("info reports the firmware as JSON", async () => {
    const r = await cli(["info", "--json"]);
    expect(JSON.parse(r.stdout)).toMatchObject({ proto: 1, fw: "0.0.0-fake", via: "direct", slots: { max: 8 } });
  });
});

describe("bad input: one sentence, non-zero exit, slots unchanged", () => {
  const cases: [string, string[], string | undefined, number, RegExp][] = [
    ["a malformed secret", ["add", "bad", "--secret", "-"], "JBSWY3DPEHPK3PX1", 2, /not valid base32: character 16/],
    ["a short hex key", ["add", "bad", "--hex", "-"], "abcd", 2, /2 bytes/],
    ["a bad URI", ["add", "--uri", "-"], "otpauth://totp/x?secret=" + B32 + "&digits=7", 2, /7 digits/],
    ["an HOTP URI", ["add", "--uri", "-"], "otpauth://hotp/x?secret=" + B32 + "&counter=0", 2, /HOTP/],
    ["two secret sources", ["add", "bad", "--generate", "--hex", "-"], HEX, 2, /only one of/],
    ["no secret source", ["add", "bad"], undefined, 2, /Give the secret/],
    ["a name too long", ["add", "x".repeat(33), "--generate"], undefined, 2, /1 to 32 characters/],
    ["an existing name", ["add", "arg", "--secret", "-"], B32, 6, /exists/],
    ["an unknown slot (code)", ["code", "nope"], undefined, 5, /No slot named nope/],
    ["an unknown slot (delete)", ["delete", "nope"], undefined, 5, /No slot named nope/],
    ["an unknown option", ["list", "--bogus"], undefined, 2, /unknown option/],
  ];
  it.each(cases)("%s", async (_what, args, input, exit, msg) => {
    const before = JSON.stringify([...dev.slots.entries()]);
    const r = await cli(args, input);
    expect(r.code).toBe(exit);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split("\n").filter((l) => !l.startsWith("Note:") && !l.startsWith("(Did you mean"))).toHaveLength(1);
    expect(secretsIn(r)).toBe(false);
    expect(JSON.stringify([...dev.slots.entries()])).toBe(before);
  });

  it("a full device refuses, names the limit, and keeps its slots", async () => {
    while (dev.slots.size < dev.maxSlots) await cli(["add", "fill" + dev.slots.size, "--generate"]);
    const before = slotNames();
    const r = await cli(["add", "onemore", "--generate", "--json"]);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "E_FULL", exit: 6 } });
    expect(r.stdout).not.toMatch(/otpauth:/);
    expect(slotNames()).toEqual(before);
    for (const n of before.filter((x) => x.startsWith("fill"))) await cli(["delete", n]);
  });

  it("a missing device is exit 3 with the address in the sentence", async () => {
    const r = await runCli(["list"], { env: privateEnv({ HWTOTP_DEVICE: "tcp://127.0.0.1:1" }) });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Cannot connect to tcp:\/\/127\.0\.0\.1:1: nothing is listening there\./);
  });
});

describe("hwtotp exec", () => {
  it("passes OS_PASSCODE in the environment only, with stdio and exit code", async () => {
    const probe = path.join(tmp, "probe.cjs");
    fs.writeFileSync(probe, "const c=process.env.OS_PASSCODE;const fs=require('fs');" +
      "fs.writeFileSync(process.argv[2], c);process.stdout.write('got '+c.length+' digits, args '+JSON.stringify(process.argv.slice(3)));" +
      "const i=fs.readFileSync(0,'utf8');process.stderr.write('stdin='+i);process.exit(7)");
    const out = path.join(tmp, "passcode.txt");
    const r = await cli(["exec", "--name", "arg", "--", process.execPath, probe, out, "--flag", "x"], "hello");
    expect(r.code).toBe(7);
    expect(r.stdout).toBe('got 6 digits, args ["--flag","x"]');
    expect(r.stderr).toContain("stdin=hello");
    const code = fs.readFileSync(out, "utf8");
    expect(code).toMatch(/^\d{6}$/);
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
