// The daemon in front of the real firmware (in-process emulator, in-process Daemon on a Unix socket) with the
// CLI as a subprocess going through it: unlock and pin forwarded (a wrong PIN's tries reach the client),
// press notices relayed to the client whose request it is (with its request id) and printed by the CLI,
// other clients served while a press waits (E_BUSY naming what the press would confirm for a second
// press-waiting request), and log lines naming ops and results but never a PIN.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PressData } from "../../../protocol/index.ts";
import { connectDaemon } from "../../../host/src/daemon-client.ts";
import { Daemon } from "../../../host/src/daemon.ts";
import { Session } from "../../../host/src/session.ts";
import { ensureHostBuilt, privateEnv, runCli } from "../../harness/cli-harness.ts";
import { type EmuTarget, startEmu } from "../../harness/emulator-harness.ts";

const B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const PIN = "harbour-9137";
const WRONG = "nottheone-55";
let target: EmuTarget;
let daemon: Daemon;
let env: NodeJS.ProcessEnv;
let sock: string;
const log: string[] = [];
/** Whether the user at the board confirms what the device asks a press for. */
let confirm = true;

beforeAll(async () => {
  await ensureHostBuilt();
  target = await startEmu({ board: "pico", autoPress: () => confirm });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-dpin-"));
  sock = path.join(dir, "hwtotp.sock");
  daemon = new Daemon({ socketPath: sock, device: target.address, log: (l) => log.push(l), retryMs: 100 });
  await daemon.start();
  env = privateEnv({ HWTOTP_SOCKET: sock });
});
afterAll(async () => {
  await daemon.stop();
  await target.stop();
});

const cli = (args: string[], input?: string) => runCli(args, { env, input });

describe("the daemon and the PIN", () => {
  it("forwards pin set, lock and unlock; a wrong PIN's tries reach the client; the CLI prints the relayed notice", async () => {
    const set = await cli(["pin", "set", "--pin", "-"], PIN);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stderr).toMatch(/^press the button to confirm: set a PIN$/m);
    expect((await cli(["add", "d1", "--secret", "-"], B32)).code).toBe(0);
    expect((await cli(["lock"])).code).toBe(0);
    const locked = await cli(["code", "d1"]);
    expect(locked.code).toBe(9);
    expect(locked.stderr).toMatch(/`hwtotp unlock`/);
    const wrong = await cli(["unlock", "--pin", "-", "--json"], WRONG);
    expect(wrong.code).toBe(9);
    expect(JSON.parse(wrong.stdout).error).toMatchObject({ code: "E_PIN", tries: 7, wiped: false, message: "Wrong PIN: 7 tries left." });
    const ok = await cli(["unlock", "--pin", "-"], PIN);
    expect(ok.code, ok.stderr).toBe(0);
    // the unlocked state is the device's: it outlasts the client, and a direct client sees it too
    const info = JSON.parse((await cli(["info", "--json"])).stdout);
    expect(info).toMatchObject({ via: "daemon", pin: { set: true, locked: false, tries: 8 } });
    const code = await cli(["code", "d1", "--json"]);
    expect(code.code, code.stderr).toBe(0);
  });

  it("relays a notice with the client's own request id", async () => {
    const link = await connectDaemon(sock);
    const s = new Session(link!, { firstId: 4242 });
    const seen: [PressData, string, number][] = [];
    s.onPress((p, op, id) => seen.push([p, op, id]));
    await s.add({ name: "d2", key: "11".repeat(20) });
    await s.delete("d2");
    expect(seen).toEqual([[{ what: "delete slot d2", long: false, ms: expect.any(Number) }, "delete", 4243]]);
    await s.close();
  });

  it("serves other clients while a press waits, and names the waiting request in a second one's E_BUSY", async () => {
    expect((await cli(["add", "d3", "--secret", "-"], B32)).code).toBe(0);
    confirm = false;
    const link = await connectDaemon(sock);
    const s = new Session(link!);
    const notice = new Promise<PressData>((r) => s.onPress((p) => r(p)));
    const waiting = s.delete("d3");
    await notice;
    const t0 = Date.now();
    const list = await cli(["list", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).slots.map((x: { name: string }) => x.name)).toContain("d3");
    const busy = await cli(["delete", "d1", "--force"]);
    expect(busy.code).toBe(8);
    expect(busy.stderr).toBe(
      "hwtotp: Busy: the token waits for a press to confirm delete slot d3 for another request; press its button only " +
        "if you asked for that, then try again.\n",
    );
    expect(Date.now() - t0).toBeLessThan(8000); // not queued behind the 15 s wait
    target.emu.control.pressButton(100);
    expect((await waiting).name).toBe("d3");
    confirm = true;
    await s.close();
  });

  it("pin change and clear go through; the log names each op and result and never holds a PIN", async () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-dpin-f-")), "new.pin");
    fs.writeFileSync(f, WRONG + "\n", { mode: 0o600 });
    const ch = await cli(["pin", "change", "--pin", "-", "--new-pin", "@" + f], PIN);
    expect(ch.code, ch.stderr).toBe(0);
    const cl = await cli(["pin", "clear", "--pin", "@" + f]);
    expect(cl.code, cl.stderr).toBe(0);
    const text = log.join("\n");
    expect(text).not.toContain(PIN);
    expect(text).not.toContain(WRONG);
    expect(text).not.toMatch(/"pin"|next/);
    const who = String.raw`pid=\d+ uid=\d+ gid=\d+ exe="[^"]+" client=\d+`;
    const line = (s: string) => new RegExp(" " + s.replace("WHO", who));
    expect(text).toMatch(line("pin action=set WHO result=ok"));
    expect(text).toMatch(line("unlock WHO result=E_PIN"));
    expect(text).toMatch(line("unlock WHO result=ok"));
    expect(text).toMatch(line("lock WHO result=ok"));
    expect(text).toMatch(line("pin action=change WHO"));
    expect(text).toMatch(line("pin action=clear WHO"));
    expect(text).toMatch(line('press for="delete slot d3" op=delete slot="d3" WHO'));
    expect(text).toMatch(line('delete slot="d1" WHO result=E_BUSY'));
    expect(text).toMatch(line('code slot="d1" WHO result=E_LOCKED'));
  });
});
