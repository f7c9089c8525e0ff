// Commander's parser errors through HwtotpCommand (host/src/cli/main.ts): no value from the command line in
// them. The CLI-level cases (unknown --opt=VALUE, excess arguments, --json documents) are in cli.test.ts.
import { Argument, CommanderError, Option } from "commander";
import { describe, expect, it } from "vitest";
import { HwtotpCommand, redactFlag } from "../../../host/src/cli/main.ts";

const SECRET = "JBSWY3DPEHPK3PXP";

async function parseError(args: string[]): Promise<CommanderError> {
  const p = new HwtotpCommand()
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError();
  p.command("x")
    .addOption(new Option("--alg <a>").choices(["SHA1", "SHA256"]))
    .addArgument(new Argument("[kind]").choices(["totp"]))
    .option("--secret <s>")
    .action(() => {});
  p.command("list").action(() => {});
  const e = await p.parseAsync(["node", "hwtotp", ...args]).then(
    () => null,
    (e) => e,
  );
  expect(e).toBeInstanceOf(CommanderError);
  return e as CommanderError;
}

describe("HwtotpCommand parser errors", () => {
  it.each([
    [
      "an invalid option value",
      ["x", "--alg", SECRET],
      /^error: option '--alg <a>' argument '…' is invalid\. Allowed choices are SHA1, SHA256\.$/,
    ],
    ["an invalid option value given with =", ["x", "--alg=" + SECRET], /argument '…' is invalid/],
    ["an invalid argument value", ["x", SECRET], /^error: command-argument value '…' is invalid for argument 'kind'\./],
    [
      "an unknown --opt=VALUE, with the hint on its name",
      ["x", "--secrt=" + SECRET],
      /^error: unknown option '--secrt=…'\n\(Did you mean --secret\?\)$/,
    ],
    ["an unknown long word that could be a secret", ["x", "--" + SECRET.toLowerCase()], /^error: unknown option '--…'$/],
    ["an unknown command that could be a secret", [SECRET], /^error: unknown command '…'$/],
  ])("hides %s", async (_what, args, msg) => {
    const e = await parseError(args);
    expect(e.message).toMatch(msg);
    expect(e.message.toUpperCase()).not.toContain(SECRET);
  });
  it("keeps an unknown command word and its hint", async () => {
    expect((await parseError(["lsit"])).message).toBe("error: unknown command 'lsit'\n(Did you mean list?)");
  });
  it.each([
    ["--secre=VALUE", "--secre=…"],
    ["--bogus", "--bogus"],
    ["--credential-projet", "--credential-projet"],
    ["--jbswy3dpehpk3pxp", "--…"],
    ["-zVALUE", "-z…"],
    ["-z", "-z"],
  ])("redactFlag(%s) is %s", (flag, shown) => {
    expect(redactFlag(flag)).toBe(shown);
  });
});
