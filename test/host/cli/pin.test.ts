// hwtotp pin set|change|clear, unlock and lock as a subprocess against the real firmware in the emulator:
// the PIN from stdin, @FILE or a no-echo prompt (a new one twice), never from argv; the host's check of a
// PIN; one sentence per failure (wrong PIN with the tries left, locked naming `hwtotp unlock`, exit 9); --json
// documents; info's PIN and guard; press notices on stderr; E_BUSY for a second press-waiting request; eight
// wrong PINs wiping the token.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PressData } from "../../../protocol/index.ts";
import { BIN, type CliResult, ensureHostBuilt, hasScript, privateEnv, runCli } from "../../harness/cli-harness.ts";
import { type EmuTarget, startEmu } from "../../harness/emulator-harness.ts";

const B32 = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const PIN1 = "7391-kestrel";
const PIN2 = "copper lantern 42";
const PINS = [PIN1, PIN2, "1234abcd", "wrongpin", "99887766"];
let target: EmuTarget;
let env: NodeJS.ProcessEnv;
let tmp: string;
const presses: PressData[] = [];

beforeAll(async () => {
  await ensureHostBuilt();
  target = await startEmu({ board: "pico", autoPress: (p) => (presses.push(p), true) });
  env = privateEnv({ HWTOTP_DEVICE: target.address });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-pin-t-"));
});
afterAll(async () => {
  await target.stop();
});

const cli = (args: string[], input?: string) => runCli(args, { env, input });
const pinFile = (name: string, pin: string, mode = 0o600) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, pin + "\n", { mode });
  fs.chmodSync(f, mode);
  return f;
};
const pinState = async () => {
  const s = await target.session();
  try {
    return (await s.hello()).pin!;
  } finally {
    await s.close();
  }
};
const noPinIn = (r: CliResult) => PINS.every((p) => !(r.stdout + r.stderr).includes(p));
const oneLine = (r: CliResult) => r.stderr.trim().split("\n").length === 1;

/** Runs hwtotp on a pty (util-linux script); `answer` gets each prompt seen so far and says what to type. */
function onTerminal(args: string[], answers: [RegExp, string][]): Promise<{ code: number; out: string }> {
  const child = spawn("script", ["-qec", [process.execPath, BIN, ...args].map((a) => "'" + a + "'").join(" "), "/dev/null"], {
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let next = 0;
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    while (next < answers.length && answers[next][0].test(out)) child.stdin.write(answers[next++][1] + "\r");
  });
  return new Promise((resolve) => child.on("close", (code) => (child.stdin.end(), resolve({ code: code ?? -1, out }))));
}

describe("PIN input is refused before anything reaches the token", () => {
  const cases: [string, string[], string | undefined, RegExp][] = [
    [
      "a PIN on argv (pin set)",
      ["pin", "set", "--pin", "1234abcd"],
      undefined,
      /^hwtotp: --pin takes - \(read the new PIN from stdin\) or @FILE, never the new PIN itself \(the command line shows in `ps` and shell history\); leave it out to be asked on the terminal\.$/m,
    ],
    [
      "a PIN on argv as --pin=VALUE (unlock)",
      ["unlock", "--pin=99887766"],
      undefined,
      /^hwtotp: --pin takes - \(read the PIN from stdin\) or @FILE, never the PIN itself/,
    ],
    [
      "a new PIN on argv (pin change)",
      ["pin", "change", "--pin", "-", "--new-pin", "1234abcd"],
      "wrongpin",
      /^hwtotp: --new-pin takes - \(read the new PIN from stdin\) or @FILE/,
    ],
    [
      "two PINs from stdin",
      ["pin", "change", "--pin", "-", "--new-pin", "-"],
      "wrongpin",
      /^hwtotp: Only one of --pin and --new-pin can read stdin: give the other as @FILE\.$/m,
    ],
    [
      "no terminal and no SPEC",
      ["pin", "set"],
      undefined,
      /^hwtotp: No terminal to ask for the new PIN on: pass --pin - to read it from stdin, or --pin @FILE\.$/m,
    ],
    ["a short PIN", ["pin", "set", "--pin", "-"], "123", /^hwtotp: The new PIN must be 4 to 64 characters\.$/m],
    ["a PIN that is not printable ASCII", ["pin", "set", "--pin", "-"], "pin\u00e9pin", /^hwtotp: The new PIN must be printable ASCII\.$/m],
    [
      "a PIN file that is missing",
      ["pin", "set", "--pin", "@/nonexistent/pin"],
      undefined,
      /^hwtotp: Cannot read the new PIN from \/nonexistent\/pin: no such file\.$/m,
    ],
    [
      "an idle time out of range",
      ["pin", "set", "--pin", "-", "--idle", "90000"],
      "1234abcd",
      /^hwtotp: --idle must be a whole number of seconds from 0 \(never lock when idle\) to 86400\.$/m,
    ],
  ];
  it.each(cases)("%s: exit 2, one sentence without the PIN, token unchanged", async (_w, args, input, msg) => {
    const before = await pinState();
    for (const json of [false, true]) {
      const r = await cli(json ? [...args, "--json"] : args, input);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(oneLine(r)).toBe(true);
      expect(noPinIn(r)).toBe(true);
      if (json) expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: "E_USAGE", exit: 2 } });
      else expect(r.stdout).toBe("");
    }
    expect(await pinState()).toEqual(before);
  });
});

describe("hwtotp pin, unlock, lock (pico: a button and a PIN)", () => {
  it("pin set reads the PIN from stdin, prints the press notice on stderr, and --json prints the PinState", async () => {
    presses.length = 0;
    const r = await cli(["pin", "set", "--pin", "-", "--idle", "600", "--json"], PIN1 + "\n");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ set: true, locked: false, tries: 8, idle: 600 });
    expect(r.stderr).toBe("press the button to confirm: set a PIN\n");
    expect(presses).toEqual([{ what: "set a PIN", long: false, ms: expect.any(Number) }]);
    expect(noPinIn(r)).toBe(true);
  });

  it("pin set again says to use change or clear (exit 2)", async () => {
    const r = await cli(["pin", "set", "--pin", "-"], "1234abcd");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hwtotp: A PIN is set already: change it with `hwtotp pin change`, or clear it with `hwtotp pin clear`\.$/m);
  });

  it("info shows the PIN state and the guard, as text and as JSON", async () => {
    const j = await cli(["info", "--json"]);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({
      pin: { set: true, locked: false, tries: 8, idle: 600 },
      guard: { button: true, pin: true },
    });
    const t = await cli(["info"]);
    expect(t.stdout).toMatch(/^PIN: +set, unlocked, 8 of 8 tries left, locks after 600 s idle$/m);
    expect(t.stdout).toMatch(/^Guard: +a press of the button and the PIN$/m);
  });

  it("lock: codes and the list are refused with one sentence naming `hwtotp unlock`, exit 9", async () => {
    expect((await cli(["add", "p1", "--secret", "-"], B32)).code).toBe(0);
    const l = await cli(["lock"]);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stderr).toBe("Locked: `hwtotp unlock` opens it again.\n");
    for (const args of [["list"], ["code", "p1"], ["delete", "p1", "--force"]]) {
      const r = await cli(args);
      expect(r.code).toBe(9);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^hwtotp: The token is locked: run `hwtotp unlock` first [^\n]*\.\n$/m);
    }
    const j = await cli(["code", "--json"]);
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: "E_LOCKED", exit: 9 } });
    expect((await pinState()).locked).toBe(true);
  });

  it("a wrong PIN from @FILE says how many tries are left (exit 9); --json carries them too", async () => {
    const f = pinFile("wrong.pin", "wrongpin");
    const r = await cli(["unlock", "--pin", "@" + f]);
    expect(r.code).toBe(9);
    expect(r.stderr).toBe("hwtotp: Wrong PIN: 7 tries left.\n");
    const j = await cli(["unlock", "--pin", "@" + f, "--json"]);
    expect(j.code).toBe(9);
    expect(JSON.parse(j.stdout)).toEqual({
      error: { code: "E_PIN", message: "Wrong PIN: 6 tries left.", exit: 9, tries: 6, wiped: false },
    });
    expect(noPinIn(r) && noPinIn(j)).toBe(true);
  });

  it("unlock from stdin: the token stays unlocked after the command, and the tries are restored", async () => {
    const r = await cli(["unlock", "--pin", "-"], PIN1 + "\n");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("Unlocked until a reset, a power cut, `hwtotp lock`, or 600 s without a request.\n");
    expect(r.stdout).toBe("");
    expect((await cli(["list"])).code).toBe(0);
    expect(await pinState()).toEqual({ set: true, locked: false, tries: 8, idle: 600 });
    // unlocked already: no PIN asked for (no terminal here), no try spent, --json gives the state
    const again = await cli(["unlock", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ set: true, locked: false, tries: 8, idle: 600 });
  });

  it("pin change takes the current PIN from stdin and the new one from @FILE; --idle alone changes only the idle time", async () => {
    const f = pinFile("new.pin", PIN2);
    const r = await cli(["pin", "change", "--pin", "-", "--new-pin", "@" + f], PIN1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^press the button to confirm: change the PIN\nPIN changed: the token is unlocked until/);
    expect((await cli(["lock"])).code).toBe(0);
    expect((await cli(["unlock", "--pin", "-"], PIN1)).code).toBe(9);
    expect((await cli(["unlock", "--pin", "@" + f])).code).toBe(0);
    const idle = await cli(["pin", "change", "--pin", "@" + f, "--idle", "0", "--json"]);
    expect(idle.code, idle.stderr).toBe(0);
    expect(JSON.parse(idle.stdout)).toEqual({ set: true, locked: false, tries: 8, idle: 0 });
    expect((await cli(["lock"])).code).toBe(0);
    expect((await cli(["unlock", "--pin", "@" + f])).code).toBe(0); // the PIN itself is unchanged
  });

  it("warns when a PIN file can be read by others", async () => {
    const f = pinFile("open.pin", PIN2, 0o644);
    expect((await cli(["lock"])).code).toBe(0);
    const r = await cli(["unlock", "--pin", "@" + f]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Note: .*open\.pin can be read by other users \(mode 0644\); keep it 0600\.$/m);
  });

  it.runIf(hasScript)("prompts without echo; a new PIN typed differently twice changes nothing", async () => {
    const bad = await onTerminal(
      ["pin", "change"],
      [
        [/Current PIN: $/, PIN2],
        [/New PIN: $/, "1234abcd"],
        [/New PIN again: $/, "1234abcX"],
      ],
    );
    expect(bad.code, bad.out).toBe(2);
    expect(bad.out).toMatch(/The two entries of the new PIN differ; nothing was changed\./);
    expect(bad.out).not.toContain("1234abc");
    expect(bad.out).not.toContain(PIN2);
    const good = await onTerminal(
      ["pin", "change"],
      [
        [/Current PIN: $/, PIN2],
        [/New PIN: $/, PIN1],
        [/New PIN again: $/, PIN1],
      ],
    );
    expect(good.code, good.out).toBe(0);
    expect(good.out).not.toContain(PIN1);
    expect((await cli(["lock"])).code).toBe(0);
    const un = await onTerminal(["unlock"], [[/PIN: $/, PIN1]]);
    expect(un.code, un.out).toBe(0);
    expect(un.out).toMatch(/Unlocked until/);
  });

  it("delete prints the device's notice on stderr; with --json stdout holds only the document", async () => {
    presses.length = 0;
    const r = await cli(["delete", "p1", "--force", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: "p1" });
    expect(r.stderr).toBe("press the button to confirm: delete slot p1\n");
    expect(presses.map((p) => p.what)).toEqual(["delete slot p1"]);
  });

  it("pin clear takes the PIN; info then says no PIN", async () => {
    const r = await cli(["pin", "clear", "--pin", "-"], hasScript ? PIN1 : PIN2);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^press the button to confirm: clear the PIN\nPIN cleared: /);
    expect(await pinState()).toEqual({ set: false, locked: false, tries: 8, idle: 0 });
    const again = await cli(["pin", "clear", "--pin", "-"], PIN1);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^hwtotp: No PIN is set: there is nothing to clear\.$/m);
    const lock = await cli(["lock", "--json"]);
    expect(JSON.parse(lock.stdout)).toEqual({ set: false, locked: false, tries: 8, idle: 0 });
    const unlock = await cli(["unlock"]);
    expect(unlock).toMatchObject({ code: 0, stderr: "No PIN is set: the token needs no unlock.\n" });
    expect((await cli(["info"])).stdout).toMatch(/^PIN: +not set$/m);
  });
});

describe("one press, one request", () => {
  it("a second request needing a press while one waits gets E_BUSY at once (exit 8)", async () => {
    const emu = await startEmu({ board: "pico" });
    const env1 = privateEnv({ HWTOTP_DEVICE: emu.address });
    try {
      const s = await emu.session();
      await s.add({ name: "a", key: "00".repeat(20) });
      await s.add({ name: "b", key: "00".repeat(20) });
      const waiting = new Promise<PressData>((r) => s.onPress((p) => r(p)));
      const first = s.delete("a");
      expect(await waiting).toMatchObject({ what: "delete slot a", long: false });
      const t0 = Date.now();
      const r = await runCli(["delete", "b", "--force"], { env: env1 });
      expect(r.code).toBe(8);
      expect(r.stderr).toMatch(/^hwtotp: Busy: another request waits for a press\.\n$/m);
      expect(Date.now() - t0).toBeLessThan(5000);
      emu.emu.control.pressButton(100);
      expect((await first).name).toBe("a");
      expect((await emu.inspect()).slots.map((x) => x.name)).toEqual(["b"]);
      await s.close();
    } finally {
      await emu.stop();
    }
  });
});

describe("a board without a button (linux)", () => {
  it("info says plainly that nothing guards the token; with a PIN the PIN guards it", async () => {
    const emu = await startEmu({ board: "linux" });
    const env1 = privateEnv({ HWTOTP_DEVICE: emu.address });
    try {
      const t = await runCli(["info"], { env: env1 });
      expect(t.stdout).toMatch(/^Guard: +none: no button and no PIN: anyone who reaches the port can change or wipe it$/m);
      expect(JSON.parse((await runCli(["info", "--json"], { env: env1 })).stdout).guard).toEqual({ button: false, pin: false });
      const set = await runCli(["pin", "set", "--pin", "-"], { env: env1, input: "1234abcd" });
      expect(set.code, set.stderr).toBe(0);
      expect(set.stderr).not.toMatch(/press the button/); // no button: the PIN is the only guard
      expect((await runCli(["info"], { env: env1 })).stdout).toMatch(/^Guard: +the PIN only \(no button\)$/m);
      const clear = await runCli(["pin", "clear", "--pin", "-"], { env: env1, input: "1234abcd" });
      expect(clear.code, clear.stderr).toBe(0);
      expect(clear.stderr).toMatch(/^Warning: no button and no PIN: anyone who reaches the port can change or wipe it\.$/m);
    } finally {
      await emu.stop();
    }
  });

  it("eight wrong PINs wipe every slot and the PIN, and the last sentence says so", async () => {
    const emu = await startEmu({ board: "linux" });
    const env1 = privateEnv({ HWTOTP_DEVICE: emu.address });
    try {
      expect((await runCli(["add", "w", "--secret", "-"], { env: env1, input: B32 })).code).toBe(0);
      expect((await runCli(["pin", "set", "--pin", "-"], { env: env1, input: "1234abcd" })).code).toBe(0);
      expect((await runCli(["lock"], { env: env1 })).code).toBe(0);
      const said: string[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await runCli(["unlock", "--pin", "-"], { env: env1, input: "wrongpin" });
        expect(r.code).toBe(9);
        said.push(r.stderr.trim());
      }
      expect(said[0]).toBe("hwtotp: Wrong PIN: 7 tries left.");
      expect(said[6]).toBe("hwtotp: Wrong PIN: 1 try left; one more wrong PIN wipes every slot and the PIN.");
      expect(said[7]).toBe("hwtotp: Wrong PIN, and that was the last try: the token wiped every slot and its PIN.");
      const info = JSON.parse((await runCli(["info", "--json"], { env: env1 })).stdout);
      expect(info.pin).toMatchObject({ set: false, locked: false });
      expect(info.slots.used).toBe(0);
    } finally {
      await emu.stop();
    }
  });
});
