// The CLI loads only the named command's module (COMMANDS, host/src/cli/commands/index.ts): each such module must
// register exactly that one top-level command, and argv must be read the way commander reads it.
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { LAZY_COMMANDS, buildProgram, commandWord } from "../../../host/src/cli/main.ts";
import { COMMANDS } from "../../../host/src/cli/commands/index.ts";

describe("lazy command loading", () => {
  it("each lazily loaded module registers exactly its own command", async () => {
    const full = await buildProgram();
    const names = full.commands.map((c) => c.name());
    for (const name of LAZY_COMMANDS) {
      expect(names).toContain(name);
      const p = new Command().enablePositionalOptions();
      const mod = await COMMANDS[name]();
      mod.register(p);
      expect(p.commands.map((c) => c.name())).toEqual([name]);
    }
    expect(Object.keys(COMMANDS).length).toBe(names.length);
  });

  it("finds the command word after root options, and gives up on anything unusual", () => {
    expect(commandWord(["exec", "--", "true"])).toBe("exec");
    expect(commandWord(["--device", "tcp://x:1", "--json", "code", "a"])).toBe("code");
    expect(commandWord(["-d", "tcp://x:1", "--no-daemon", "list"])).toBe("list");
    expect(commandWord(["--socket=/s", "info"])).toBe("info");
    expect(commandWord(["--device", "exec"])).toBeNull(); // "exec" is the device here
    expect(commandWord(["--help"])).toBeNull();
    expect(commandWord(["help", "exec"])).toBeNull();
    expect(commandWord(["exex"])).toBeNull();
    expect(commandWord(["-dtcp://x:1", "code"])).toBeNull();
    expect(commandWord([])).toBeNull();
  });
});
