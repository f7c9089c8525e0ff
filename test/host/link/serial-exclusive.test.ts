// The serial link holds its tty for itself: serialport's flock (other flock users are refused) and then
// TIOCEXCL (any later open(2) of the tty fails with EBUSY, flock or not, except with CAP_SYS_ADMIN), handed
// back on close. Over a pty that socat bridges to the emulator; pending when socat is missing.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureHostBuilt, privateEnv, ROOT, runCli } from "../../harness/cli-harness.ts";
import { type EmuTarget, startEmu } from "../../harness/emulator-harness.ts";
import { createLink } from "../../../host/src/link/index.ts";
import { exclIoctl, SerialLink } from "../../../host/src/link/serial.ts";

function has(cmd: string, arg: string): boolean {
  try {
    execFileSync(cmd, [arg], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
/** A plain open(2) of the tty, as a program that knows nothing of flock would do (root: without CAP_SYS_ADMIN, which TIOCEXCL exempts). */
const plainOpenCmd = (tty: string): string[] => {
  const js = `try { require("fs").closeSync(require("fs").openSync(${JSON.stringify(tty)}, "r+")); console.log("opened"); } catch (e) { console.log(e.code); }`;
  return isRoot ? ["setpriv", "--bounding-set=-sys_admin", process.execPath, "-e", js] : [process.execPath, "-e", js];
};
function plainOpen(tty: string): Promise<string> {
  const [cmd, ...args] = plainOpenCmd(tty);
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (b: Buffer) => (out += b.toString()));
    p.on("exit", () => resolve(out.trim()));
  });
}

const d = has("socat", "-V") && (!isRoot || has("setpriv", "--version")) && process.platform === "linux" ? describe : describe.skip;
let target: EmuTarget;
let tty: string;

d("serial link: the tty for one program at a time", () => {
  beforeAll(async () => {
    await ensureHostBuilt();
    target = await startEmu({ board: "pico" });
    tty = (await target.emu.pty())!.path;
  });
  afterAll(async () => {
    await target?.stop();
  });

  it("a second open is refused with a clear sentence (exit 3), in-process and from another hwtotp", async () => {
    const first = (await createLink(tty)) as SerialLink;
    await first.open();
    try {
      expect(first.exclusive).toBeNull(); // TIOCEXCL is on
      const second = await createLink(tty);
      await expect(second.open()).rejects.toMatchObject({
        exitCode: 3,
        message: "Cannot open " + tty + ": another program has it open for itself (is `hwtotp daemon` running? then leave out --device).",
      });
      const r = await runCli(["list"], { env: privateEnv({ HWTOTP_DEVICE: tty }) });
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(
        "hwtotp: Cannot open " + tty + ": another program has it open for itself (is `hwtotp daemon` running? then leave out --device).\n",
      );
    } finally {
      await first.close();
    }
  });

  it("a program that ignores flock cannot open it either while hwtotp holds it (EBUSY), and can once hwtotp closes it", async () => {
    const link = (await createLink(tty)) as SerialLink;
    await link.open();
    try {
      expect(await plainOpen(tty)).toBe("EBUSY");
    } finally {
      await link.close();
    }
    expect(await plainOpen(tty)).toBe("opened");
    // and hwtotp itself again
    const r = await runCli(["list", "--json"], { env: privateEnv({ HWTOTP_DEVICE: tty }) });
    expect(r.code, r.stderr).toBe(0);
  });

  it("leaves a tty held by another program alone: no exclusive mode is set when the flock fails", async () => {
    const first = (await createLink(tty)) as SerialLink;
    await first.open();
    await first.close(); // exclusive mode handed back
    // another serialport program (flock only, no exclusive mode) holds the port
    const js = `const { SerialPort } = require("serialport"); const p = new SerialPort({ path: ${JSON.stringify(tty)}, baudRate: 9600, lock: true }, (e) => { console.log(e ? "failed " + e.message : "locked"); }); setTimeout(() => {}, 30000);`;
    const holder = spawn(process.execPath, ["-e", js], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"], detached: true });
    try {
      expect(await new Promise<string>((resolve) => holder.stdout.on("data", (b: Buffer) => resolve(b.toString().trim())))).toBe("locked");
      const link = await createLink(tty);
      await expect(link.open()).rejects.toMatchObject({
        exitCode: 3,
        message: expect.stringMatching(/another program has it open for itself/),
      });
      expect(await plainOpen(tty)).toBe("opened"); // we did not shut the holder's tty for others
    } finally {
      process.kill(-holder.pid!, "SIGKILL");
    }
  });
});

describe("TIOCEXCL numbers", () => {
  it.each([
    ["x64", 0x540c, 0x540d],
    ["arm64", 0x540c, 0x540d],
    ["arm", 0x540c, 0x540d],
    ["mipsel", 0x740d, 0x740e],
    ["ppc64", 0x2000740c, 0x2000740d],
    ["sparc", null, null],
  ])("%s", (arch, excl, nxcl) => {
    expect(exclIoctl("TIOCEXCL", arch)).toBe(excl);
    expect(exclIoctl("TIOCNXCL", arch)).toBe(nxcl);
  });
});
