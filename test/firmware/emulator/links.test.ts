// The emulator's links from outside the process: the device link and the JSON-lines control channel on
// Unix sockets only this user can open (another uid is refused: run as uid 65534 when the tests run as
// root), TCP only when asked for, the 2v25 packet protocol (EVAL, FILE_SEND/DATA, FILE_RECV) the espruino
// tools use, the button and LEDs, and `hwtotp emulate` as a command.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createEmulator, type Emulator } from "../../../firmware/emulator/index.ts";
import { defaultFirmwarePath, packageRoot } from "../../../host/src/paths.ts";

let emu: Emulator | null = null;
afterEach(async () => {
  if (emu) await emu.stop();
  emu = null;
});

function open(to: number | string): Promise<{ sock: net.Socket; read: (until: (s: string) => boolean, ms?: number) => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const where: net.NetConnectOpts = typeof to === "number" ? { port: to, host: "127.0.0.1" } : { path: to };
    const sock = net.connect(where, () => {
      let buf = "";
      const waiters: (() => void)[] = [];
      sock.on("data", (b: Buffer) => {
        buf += b.toString("latin1");
        for (const w of waiters.splice(0)) w();
      });
      resolve({
        sock,
        read(until, ms = 10000) {
          return new Promise((res, rej) => {
            const t0 = Date.now();
            const check = () => {
              if (until(buf)) {
                const out = buf;
                buf = "";
                res(out);
              } else if (Date.now() - t0 > ms) rej(new Error("timeout; got " + JSON.stringify(buf)));
              else {
                waiters.push(check);
                setTimeout(check, 50);
              }
            };
            check();
          });
        },
      });
    });
    sock.on("error", reject);
  });
}

function packet(type: number, data: string): string {
  const flags = type | data.length;
  return "\x10\x01" + String.fromCharCode((flags >> 8) & 255, flags & 255) + data;
}

/** Unprivileged runs: root may switch to uid 65534 (setpriv, util-linux); anyone else cannot be another uid. */
const asOther = (() => {
  if (typeof process.getuid !== "function" || process.getuid() !== 0)
    return "the tests do not run as root, so they cannot act as another uid";
  if (spawnSync("setpriv", ["--version"]).status !== 0) return "setpriv (util-linux) is missing";
  return null;
})();

/**
 * As uid/gid 65534 with no groups: connects to each address, sends one control request
 * (`readFile(".bootcde")`, the kind that would read a seed) and reports what happened per address
 * ("file:PATH" entries are opened read-write instead).
 */
async function probeAsOther(addrs: (string | number)[]): Promise<{ [addr: string]: string }> {
  const script = `
    const net = require("net");
    const out = {};
    let left = ${addrs.length};
    for (const a of ${JSON.stringify(addrs)}) {
      if (typeof a === "string" && a.startsWith("file:")) {
        try { require("fs").closeSync(require("fs").openSync(a.slice(5), "r+")); out[a] = "opened"; } catch (e) { out[a] = e.code; }
        if (--left === 0) console.log(JSON.stringify(out));
        continue;
      }
      const s = net.connect(typeof a === "number" ? { port: a, host: "127.0.0.1" } : { path: a });
      const done = (r) => { if (out[a] === undefined) { out[a] = r; s.destroy(); if (--left === 0) console.log(JSON.stringify(out)); } };
      s.on("connect", () => s.write('{"id":1,"cmd":"readFile","args":[".bootcde"]}\\n'));
      s.on("data", (b) => done("answered: " + String(b).slice(0, 40)));
      s.on("error", (e) => done(e.code));
      setTimeout(() => done("connected, no answer"), 3000).unref();
    }`;
  // asynchronously: the emulator under test answers from this very process
  const child = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  expect(code, err).toBe(0);
  return JSON.parse(out);
}

describe("emulator links", () => {
  it("answers the control channel with JSON lines", async () => {
    emu = createEmulator({ board: "pico", flashed: false, clock: 1700000000, frozenClock: true });
    await emu.start();
    const { path: ctl } = await emu.listenControlUnix();
    const c = await open(ctl);
    c.sock.write('{"id":1,"cmd":"advance","args":[90]}\n{"id":2,"cmd":"now"}\n{"id":3,"cmd":"nope"}\n{"id":4,"cmd":"heap"}\n');
    const lines = (await c.read((s) => s.split("\n").length > 4))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ id: 1, ok: true, result: null });
    expect(lines[1]).toEqual({ id: 2, ok: true, result: 1700000090 });
    expect(lines[2].ok).toBe(false);
    expect(lines[3].result.total).toBe(5100);
    c.sock.destroy();
  });

  it("puts the device link and control channel on Unix sockets: 0600, in a 0700 folder of this user, removed on stop", async () => {
    emu = createEmulator({ board: "pico", flashed: false });
    await emu.start();
    const dev = (await emu.listenUnix()).path;
    const ctl = (await emu.listenControlUnix()).path;
    expect(path.dirname(dev)).toBe(path.dirname(ctl));
    for (const p of [dev, ctl]) {
      const st = fs.lstatSync(p);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
    }
    const dir = fs.lstatSync(path.dirname(dev));
    expect(dir.mode & 0o777).toBe(0o700);
    expect(dir.uid).toBe(process.getuid!());
    const c = await open(dev);
    c.sock.write("\n");
    expect(await c.read((s) => s.endsWith(">"))).toContain("=undefined");
    c.sock.destroy();
    await emu.stop();
    emu = null;
    expect(fs.existsSync(path.dirname(dev))).toBe(false);
  });

  it("refuses a socket path in a folder others may enter, a symlink, or one something listens on", async () => {
    emu = createEmulator({ board: "pico", flashed: false });
    await emu.start();
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-shared-"));
    fs.chmodSync(shared, 0o755);
    await expect(emu.listenUnix(path.join(shared, "d.sock"))).rejects.toThrow(
      /Will not put the emulator's socket in .*: other users may enter it \(chmod 700 it\)\./,
    );
    await expect(emu.listenControlUnix(path.join(os.tmpdir(), "hwtotp-x.sock"))).rejects.toThrow(/Will not put the emulator's socket in/);
    if (spawnSync("socat", ["-V"]).status === 0)
      await expect(emu.pty(path.join(shared, "tty"))).rejects.toThrow(
        /Will not put the emulator's pty link in .*: other users may enter it/,
      );
    fs.chmodSync(shared, 0o700);
    fs.symlinkSync(path.join(shared, "elsewhere"), path.join(shared, "link.sock"));
    await expect(emu.listenUnix(path.join(shared, "link.sock"))).rejects.toThrow(/exists and is not a socket/);
    const ok = await emu.listenUnix(path.join(shared, "d.sock"));
    const made = await emu.listenControlUnix(path.join(shared, "new", "c.sock")); // a missing folder is made 0700
    expect(fs.lstatSync(path.dirname(made.path)).mode & 0o777).toBe(0o700);
    await expect(emu.listenControlUnix(ok.path)).rejects.toThrow(/Something already listens on/);
  });

  (asOther ? it.skip : it)(
    "another uid reaches neither the device link nor the control channel (uid 65534; TCP, by contrast, serves it the firmware)" +
      (asOther ? ": pending, " + asOther : ""),
    async () => {
      emu = createEmulator({ board: "pico", clock: 1700000000 });
      await emu.start();
      const dev = (await emu.listenUnix()).path;
      const ctl = (await emu.listenControlUnix()).path;
      const tcp = (await emu.listenControl()).port;
      const pty = await emu.pty(); // null without socat
      const tty = pty ? "file:" + fs.realpathSync(pty.path) : null;
      const got = await probeAsOther(tty ? [dev, ctl, tcp, tty] : [dev, ctl, tcp]);
      expect(got[dev]).toBe("EACCES");
      expect(got[ctl]).toBe("EACCES");
      if (tty) expect(got[tty]).toBe("EACCES"); // the pty device itself, by its /dev/pts path
      // the probe itself works: the explicit TCP control channel is the open door the default closes
      expect(got[tcp]).toMatch(/^answered: \{"id":1,"ok":true/);
    },
  );

  it("exposes a pty of mode 0600 bridged to a Unix-socket link", async () => {
    emu = createEmulator({ board: "pico", flashed: false });
    await emu.start();
    const p = await emu.pty();
    if (!p) return; // socat missing (.ci/run installs it)
    expect(fs.statSync(fs.realpathSync(p.path)).mode & 0o777).toBe(0o600);
    expect(fs.lstatSync(path.dirname(p.path)).mode & 0o777).toBe(0o700);
    const fd = fs.openSync(p.path, "r+");
    fs.writeSync(fd, "\n");
    const buf = Buffer.alloc(64);
    let got = "";
    for (let i = 0; i < 100 && !got.includes(">"); i++) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        const n = fs.readSync(fd, buf, 0, 64, null);
        got += buf.subarray(0, n).toString("latin1");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      }
    }
    fs.closeSync(fd);
    expect(got).toContain("=undefined");
  });

  it("speaks the packet protocol: EVAL, FILE_SEND + DATA, FILE_RECV", async () => {
    emu = createEmulator({ board: "pico", flashed: false });
    await emu.start();
    const { port } = await emu.listen();
    const c = await open(port);
    c.sock.write(Buffer.from(packet(0x2000, "1+2"), "latin1"));
    expect(await c.read((s) => s.includes("3"))).toBe("\x06" + "\x10\x01\x00\x01" + "3");
    const body = "x".repeat(1500) + "END";
    c.sock.write(Buffer.from(packet(0x6000, JSON.stringify({ fn: "up.txt", s: body.length })), "latin1"));
    expect(await c.read((s) => s.length >= 1)).toBe("\x06");
    c.sock.write(Buffer.from(packet(0x8000, body.substring(0, 1024)), "latin1"));
    expect(await c.read((s) => s.length >= 1)).toBe("\x06");
    c.sock.write(Buffer.from(packet(0x8000, body.substring(1024)), "latin1"));
    expect(await c.read((s) => s.length >= 1)).toBe("\x06");
    expect(emu.control.readFile("up.txt")).toBe(body);
    c.sock.write(Buffer.from(packet(0xa000, JSON.stringify({ fn: "up.txt" })), "latin1"));
    const got = await c.read((s) => s.endsWith("\x10\x01\x80\x00"));
    expect(got.startsWith("\x06")).toBe(true);
    expect(got).toContain("END");
    c.sock.destroy();
  });

  it("echoes in the REPL, hides \\x10 lines, and answers the CLI's print probe", async () => {
    emu = createEmulator({ board: "pico", flashed: false });
    await emu.start();
    const { port } = await emu.listen();
    const c = await open(port);
    c.sock.write("\n");
    expect(await c.read((s) => s.endsWith(">"))).toBe("\r\n=undefined\r\n>");
    c.sock.write("\x10var hidden = 41\n");
    c.sock.write('\x10print("<","<<",JSON.stringify(hidden + 1),">>",">")\n');
    expect(await c.read((s) => s.includes(">> >"))).toBe("< << 42 >> >\r\n");
    c.sock.write("\x03");
    c.sock.write("if (true) {\n hidden\n}\n");
    expect(await c.read((s) => s.endsWith("=41\r\n>"))).toContain("=41");
    c.sock.destroy();
  });

  it("fires setWatch on the button and drives LEDs", async () => {
    emu = createEmulator({ board: "puckjs", flashed: false, clock: 1700000000, frozenClock: true });
    await emu.start();
    emu.device.evalExpr(
      "var edges = []; setWatch(function (e) { edges.push(e.state); LED1.write(e.state); }, BTN, { repeat: true, edge: 'both' });",
    );
    emu.control.holdButton(true);
    expect(emu.control.leds().LED1).toBe(true);
    emu.control.holdButton(false);
    emu.control.pressButton(50);
    expect(emu.device.evalExpr("edges.join()")).toBe("true,false,true,false");
    expect(emu.control.leds()).toEqual({ LED1: false, LED2: false, LED3: false });
    expect(emu.device.evalExpr("BTN.read()")).toBe(false);
  });

  it("repeats E.hwRand on the linux build only", async () => {
    const seq = async (board: string) => {
      const e = createEmulator({ board, flashed: false });
      await e.start();
      const a = e.device.evalExpr("[E.hwRand(), E.hwRand()].join()");
      await e.stop();
      return a;
    };
    expect(await seq("linux")).toBe(await seq("linux"));
    expect(await seq("pico")).not.toBe(await seq("pico"));
  });

  const haveCli = fs.existsSync(path.join(packageRoot(), "host", "dist", "hwtotp.mjs")) && fs.existsSync(defaultFirmwarePath());
  const bin = path.join(packageRoot(), "host", "bin", "hwtotp.js");

  /** Starts `hwtotp emulate ARGS --json`, returns its first JSON line, its stderr so far and a stop function. */
  async function emulate(args: string[]): Promise<{ info: { device: string; control: string }; stderr: () => string; stop: () => void }> {
    const child = spawn(process.execPath, [bin, "emulate", "--json", ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const stop = () => {
      if (child.pid && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGTERM");
    };
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (b: Buffer) => {
          out += b.toString();
          if (out.includes("\n")) resolve(out);
        });
        child.on("exit", (code) => reject(new Error("emulate exited " + code + ": " + err)));
        setTimeout(() => reject(new Error("emulate printed nothing")), 15000);
      });
      return { info: JSON.parse(first), stderr: () => err, stop };
    } catch (e) {
      stop();
      throw e;
    }
  }

  function info(device: string): Promise<string> {
    return new Promise<string>((resolve) => {
      const p = spawn(process.execPath, [bin, "info", "--device", device, "--json"], { stdio: ["ignore", "pipe", "inherit"] });
      let s = "";
      p.stdout.on("data", (b: Buffer) => (s += b.toString()));
      p.on("exit", () => resolve(s));
    });
  }

  it.skipIf(!haveCli)(
    "runs as `hwtotp emulate` on Unix sockets by default and serves `hwtotp info --device unix:…`",
    async () => {
      const e = await emulate(["--board", "bangle2"]);
      try {
        expect(e.info.device).toMatch(/^unix:\/.*\/device\.sock$/);
        expect(e.info.control).toMatch(/^unix:\/.*\/control\.sock$/);
        expect(e.stderr()).not.toMatch(/Warning/);
        expect(JSON.parse(await info(e.info.device)).board).toBe("BANGLEJS2");
        if (asOther === null) {
          const dev = e.info.device.slice(5);
          const ctl = e.info.control.slice(5);
          const got = await probeAsOther([dev, ctl]);
          expect(got[dev]).toBe("EACCES");
          expect(got[ctl]).toBe("EACCES");
        }
      } finally {
        e.stop();
      }
    },
    30000,
  );

  it.skipIf(!haveCli)(
    "listens on TCP only when asked (--tcp, or a 127.0.0.1:PORT address) and then warns",
    async () => {
      const e = await emulate(["--tcp", "--board", "pico"]);
      try {
        expect(e.info.device).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
        expect(e.info.control).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
        expect(e.stderr()).toMatch(/Warning: the device link tcp:\/\/127\.0\.0\.1:\d+ is open to every user of this machine/);
        expect(e.stderr()).toMatch(
          /Warning: the control channel tcp:\/\/127\.0\.0\.1:\d+ is open to every user of this machine: any of them can read the seeds/,
        );
        expect(JSON.parse(await info(e.info.device)).board).toBe("PICO_R1_3");
      } finally {
        e.stop();
      }
      const m = await emulate(["--control", "127.0.0.1:0"]);
      try {
        expect(m.info.device).toMatch(/^unix:/);
        expect(m.info.control).toMatch(/^tcp:/);
        expect(m.stderr()).toMatch(/Warning: the control channel/);
        expect(m.stderr()).not.toMatch(/Warning: the device link/);
      } finally {
        m.stop();
      }
    },
    30000,
  );

  it.skipIf(!haveCli)(
    "refuses a --state that is a symlink, or no state file, with exit 2 and one sentence that quotes nothing of it",
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-st-"));
      fs.symlinkSync(path.join(dir, "victim"), path.join(dir, "link.json"));
      const r = spawnSync(process.execPath, [bin, "emulate", "--state", path.join(dir, "link.json")], { encoding: "utf8", timeout: 20000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe("hwtotp: State file " + path.join(dir, "link.json") + " is a symlink; name the file itself.\n");
      expect(fs.existsSync(path.join(dir, "victim"))).toBe(false);
      fs.writeFileSync(path.join(dir, "bad.json"), "SEEDSEEDSEED", { mode: 0o600 });
      const b = spawnSync(process.execPath, [bin, "emulate", "--state", path.join(dir, "bad.json")], { encoding: "utf8", timeout: 20000 });
      expect(b.status).toBe(2);
      expect(b.stderr).toBe("hwtotp: The --state file is not an emulator state file (not JSON).\n");
    },
    30000,
  );

  it.skipIf(!haveCli)(
    "refuses --listen in a folder others may enter with exit 2 and one sentence",
    async () => {
      const shared = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-shared-"));
      fs.chmodSync(shared, 0o755);
      const r = spawnSync(process.execPath, [bin, "emulate", "--listen", path.join(shared, "d.sock")], {
        encoding: "utf8",
        timeout: 20000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(
        /^hwtotp: Will not put the emulator's socket in .*hwtotp-shared-\w+: other users may enter it \(chmod 700 it\)\.\n$/,
      );
      expect(fs.readdirSync(shared)).toEqual([]);
    },
    30000,
  );
});
