// The real espruino CLI (npm package espruino 0.1.67) against the emulator over tcp://127.0.0.1:PORT:
// it evaluates on a fresh board in REPL mode, and `flashFirmware` (hwtotp flash, a factory reset) erases
// Storage, uploads the bundle as .bootcde first, reboots with load(), and the firmware then answers over the
// same link (and over a socat pty).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../../../firmware/emulator/index.ts";
import { defaultFirmwarePath } from "../../../host/src/paths.ts";
import { espruinoCliPath, boardJsonPath, flashFirmware } from "../../../host/src/flash.ts";
import { createLink } from "../../../host/src/link/index.ts";
import { Session } from "../../../host/src/session.ts";

const haveFirmware = fs.existsSync(defaultFirmwarePath());
const haveSocat = spawnSync("sh", ["-c", "command -v socat"]).status === 0;
let emu: Emulator | null = null;

/** Runs the CLI without blocking this process's event loop (the emulator lives in it). */
function runCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [espruinoCliPath(), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString("latin1")));
    child.stderr.on("data", (b: Buffer) => (out += b.toString("latin1")));
    const timer = setTimeout(() => child.kill("SIGTERM"), 60000);
    child.on("error", reject);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}
afterEach(async () => {
  if (emu) await emu.stop();
  emu = null;
});

describe("the real espruino CLI talks to the emulator", () => {
  it("evaluates an expression on a fresh board over tcp://", async () => {
    emu = createEmulator({ board: "pico", flashed: false, clock: 1700000000 });
    await emu.start();
    expect(emu.control.mode()).toBe("repl");
    const { port } = await emu.listen();
    const out = await runCli([
      "--no-ble",
      "-p",
      "tcp://127.0.0.1:" + port,
      "--board",
      boardJsonPath("pico"),
      "-e",
      "print('sum=' + (40 + 2) + ' board=' + process.env.BOARD)",
    ]);
    expect(out).toContain("sum=42 board=PICO_R1_3");
  });

  it.skipIf(!haveFirmware)(
    "flashes the firmware into a fresh emulator and the firmware answers",
    async () => {
      emu = createEmulator({ board: "puckjs", flashed: false, clock: 1700000000 });
      await emu.start();
      const { port } = await emu.listen();
      const res = await flashFirmware({ port: "tcp://127.0.0.1:" + port, board: "puckjs" });
      expect(res.hello.board).toBe("PUCKJS");
      expect(emu.control.mode()).toBe("firmware");
      expect(emu.control.readFile(".bootcde")).toBe(fs.readFileSync(defaultFirmwarePath(), "latin1"));
      expect(emu.control.storage()[0].name).toBe(".bootcde"); // written first after the erase
      const s = await Session.connect(await createLink("tcp://127.0.0.1:" + port));
      await s.add({ name: "cli", key: "3132333435363738393031323334353637383930" } as never);
      const list = await s.list();
      expect(list.slots.map((x) => x.name)).toEqual(["cli"]);
      await s.close();
      // Survives a power cycle: the firmware boots from Storage.
      emu.control.powerCycle();
      expect(emu.control.mode()).toBe("firmware");
      // Flashing over a running firmware is refused with the way out; with the button held at boot it works,
      // and it is a factory reset: the slot is gone, the firmware is the first file again.
      await expect(flashFirmware({ port: "tcp://127.0.0.1:" + port, board: "puckjs" })).rejects.toThrow(/hold the button/);
      emu.control.holdButton(true);
      emu.control.reset();
      emu.control.holdButton(false); // only the hold at boot counts; load() after the upload must boot the firmware
      expect(emu.control.mode()).toBe("repl");
      const again = await flashFirmware({ port: "tcp://127.0.0.1:" + port, board: "puckjs" });
      expect(again.hello.slots.used).toBe(0);
      expect(again.files[0]).toBe(".bootcde");
      expect(emu.control.storage()[0].name).toBe(".bootcde");
    },
    120000,
  );

  it.skipIf(!haveFirmware || !haveSocat)(
    "serves the firmware on a pty through socat",
    async () => {
      emu = createEmulator({ board: "pico", clock: 1700000000 });
      await emu.start();
      const pty = await emu.pty();
      expect(pty).not.toBeNull();
      const s = await Session.connect(await createLink(pty!.path));
      expect(s.info!.board).toBe("PICO_R1_3");
      await s.close();
    },
    30000,
  );
});
