// `hwtotp s3` and an aws command that brings its own --cli-input-json / --cli-input-yaml: the pin goes into
// a private copy of that input (same format, every other field kept) in its place, never onto argv.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planS3 } from "../../../../host/src/integrations/ceph/s3-mfa.ts";
import { ensureHostBuilt, privateEnv, runCli } from "../../../harness/cli-harness.ts";
import { type EmuTarget, startEmu } from "../../../harness/emulator-harness.ts";

const PIN = "hw-1 123456";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-s3in-"));
const jsonFile = path.join(dir, "in.json");
const yamlFile = path.join(dir, "in.yaml");
fs.writeFileSync(jsonFile, JSON.stringify({ Bucket: "b", Key: "k", VersionId: "v1" }));
fs.writeFileSync(yamlFile, "# mine\nBucket: b\nKey: k # the key\nVersionId: v1\n");

/** The input file the plan hands aws, read back, with the option that names it. */
function handedOver(args: string[]): { opt: string; file: string; text: string } {
  const i = args.findIndex((a) => a === "--cli-input-json" || a === "--cli-input-yaml");
  expect(i).toBeGreaterThanOrEqual(0);
  expect(args.filter((a) => a.startsWith("--cli-input-"))).toHaveLength(1);
  const file = args[i + 1].replace(/^file:\/\//, "");
  return { opt: args[i], file, text: fs.readFileSync(file, "utf8") };
}

describe("s3: the user's own --cli-input-json / --cli-input-yaml", () => {
  const AWS = ["aws", "--endpoint-url", "http://127.0.0.1:1", "s3api", "delete-object"];
  it.each([
    ["file:// JSON", ["--cli-input-json", "file://" + jsonFile], "--cli-input-json"],
    ["--cli-input-json=file://…", ["--cli-input-json=file://" + jsonFile], "--cli-input-json"],
    ["inline JSON", ["--cli-input-json", '{"Bucket":"b","Key":"k","VersionId":"v1"}'], "--cli-input-json"],
    ["file:// YAML", ["--cli-input-yaml", "file://" + yamlFile], "--cli-input-yaml"],
    ["inline YAML", ["--cli-input-yaml", "Bucket: b\nKey: k\nVersionId: v1\n"], "--cli-input-yaml"],
  ])("%s: MFA merged into a private copy in its place, every field kept, nothing on argv", (_what, input, opt) => {
    const p = planS3([...AWS, ...input, "--output", "json"], PIN);
    expect(p.how).toBe("aws-json");
    expect(p.args.join("\n")).not.toContain("123456");
    expect(p.args.slice(0, 4)).toEqual(AWS.slice(1));
    expect(p.args.slice(-2)).toEqual(["--output", "json"]);
    const h = handedOver(p.args);
    expect(h.opt).toBe(opt);
    expect(fs.statSync(h.file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(h.file)).mode & 0o777).toBe(0o700);
    const o = opt === "--cli-input-json" ? JSON.parse(h.text) : parseYaml(h.text);
    expect(o).toEqual({ Bucket: "b", Key: "k", VersionId: "v1", MFA: PIN });
    p.cleanup();
    expect(fs.existsSync(h.file)).toBe(false);
  });

  it("keeps the YAML's comments, and expands ~ in file:// as awscli does", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-home-"));
    fs.copyFileSync(yamlFile, path.join(home, "in.yaml"));
    const old = process.env.HOME;
    process.env.HOME = home;
    try {
      const p = planS3([...AWS, "--cli-input-yaml", "file://~/in.yaml"], PIN);
      expect(handedOver(p.args).text).toContain("Key: k # the key");
      p.cleanup();
    } finally {
      process.env.HOME = old;
    }
  });

  it.each([
    ["an input that already has MFA", ["--cli-input-json", '{"MFA":"x 1"}'], /Leave MFA out of your --cli-input-json/],
    ["a YAML input that already has MFA", ["--cli-input-yaml", "MFA: x 1\n"], /Leave MFA out of your --cli-input-yaml/],
    ["JSON that is no object", ["--cli-input-json", "[1]"], /must be a JSON object/],
    ["bad JSON", ["--cli-input-json", '{"Key": SECRET'], /^The --cli-input-json is not valid JSON\.$/],
    ["bad YAML", ["--cli-input-yaml", "Key: [SECRET"], /^The --cli-input-yaml is not valid YAML \(line \d+, column \d+\)\.$/],
    ["a YAML list", ["--cli-input-yaml", "- a\n"], /must be a mapping/],
    ["an input from a URL", ["--cli-input-json", "https://example.com/in.json"], /from a URL; save it to a file/],
    [
      "a missing file",
      ["--cli-input-json", "file://" + path.join(dir, "nope.json")],
      /Cannot read the --cli-input-json file .*nope\.json: ENOENT/,
    ],
    ["two inputs", ["--cli-input-json", "{}", "--cli-input-yaml", "{}"], /Give one --cli-input-json or --cli-input-yaml/],
    ["an input without a value", ["--cli-input-json"], /--cli-input-json needs a value/],
  ])("refuses %s in one sentence (UsageError, exit 2) before a pin is spent", (_what, input, msg) => {
    const made = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("hwtotp-s3-")).length;
    const before = made();
    for (const check of [true, false]) {
      expect(() => planS3([...AWS, ...input], check ? "CHECK 000000" : PIN, { check })).toThrow(
        expect.objectContaining({ exitCode: 2, message: expect.stringMatching(msg) }),
      );
    }
    expect(made()).toBe(before);
  });

  it("the check before a pin is spent writes nothing", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-s3chk-"));
    planS3([...AWS, "--cli-input-json", "file://" + jsonFile], "CHECK 000000", { check: true, tmp });
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  it("only --mfa-arg puts the pin on argv", () => {
    const p = planS3([...AWS, "--cli-input-json", "file://" + jsonFile], PIN, { mfaArg: true });
    expect(p.how).toBe("aws-arg");
    expect(p.args.slice(-2)).toEqual(["--mfa", PIN]);
  });
});

describe("hwtotp s3 -- aws … --cli-input-json (the real CLI, the emulated token, an aws that records what it got)", () => {
  let target: EmuTarget;
  beforeAll(async () => {
    await ensureHostBuilt();
    target = await startEmu({ board: "pico" });
  });
  afterAll(async () => {
    await target?.stop();
  });

  it("aws gets the pin inside a private copy of its input, not on argv, and the copy is gone afterwards", async () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-fakeaws-"));
    const record = path.join(bin, "record.json");
    // Named aws so that hwtotp treats it as the aws CLI: it records its argv and the input file it was handed.
    fs.writeFileSync(
      path.join(bin, "aws"),
      [
        "#!/usr/bin/env node",
        "const fs = require('fs');",
        "const a = process.argv.slice(2);",
        "const i = a.indexOf('--cli-input-json');",
        "const f = a[i + 1].slice('file://'.length);",
        "const st = fs.statSync(f);",
        `fs.writeFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: a, input: JSON.parse(fs.readFileSync(f, 'utf8')), file: f, mode: st.mode & 0o777 }));`,
      ].join("\n"),
      { mode: 0o755 },
    );
    const env = privateEnv({ HWTOTP_DEVICE: target.address, HWTOTP_MFA_STATE: path.join(bin, "mfa") });
    expect((await runCli(["add", "ceph", "--secret", "-"], { env, input: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" })).code).toBe(0);
    const r = await runCli(
      [
        "s3",
        "--name",
        "ceph",
        "--serial",
        "hw-1",
        "--",
        path.join(bin, "aws"),
        "s3api",
        "delete-object",
        "--cli-input-json",
        "file://" + jsonFile,
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(fs.readFileSync(record, "utf8"));
    expect(got.input).toMatchObject({ Bucket: "b", Key: "k", VersionId: "v1", MFA: expect.stringMatching(/^hw-1 \d{6}$/) });
    expect(got.argv.join(" ")).not.toContain(got.input.MFA.split(" ")[1]);
    expect(got.argv).not.toContain("--mfa");
    expect(got.mode).toBe(0o600);
    expect(fs.existsSync(got.file)).toBe(false);
  });
});
