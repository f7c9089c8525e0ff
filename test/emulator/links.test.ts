// The emulator's links from outside the process: the TCP device link, the JSON-lines control channel, the
// 2v25 packet protocol (EVAL, FILE_SEND/DATA, FILE_RECV) the espruino tools use, the button and LEDs, and
// `hwtotp emulate` as a command.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createEmulator, defaultFirmwarePath, packageRoot, type Emulator } from "../../firmware/emulator/index.ts";

let emu: Emulator | null = null;
afterEach(async () => {
  if (emu) await emu.stop();
  emu = null;
});

function open(port: number): Promise<{ sock: net.Socket; read: (until: (s: string) => boolean, ms?: number) => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => {
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

describe("emulator links", () => {
  it("answers the control channel with JSON lines", async () => {
    emu = createEmulator({ board: "pico", flashed: false, clock: 1700000000, frozenClock: true });
    await emu.start();
    const { port } = await emu.listenControl();
    const c = await open(port);
    c.sock.write('{"id":1,"cmd":"advance","args":[90]}\n{"id":2,"cmd":"now"}\n{"id":3,"cmd":"nope"}\n{"id":4,"cmd":"heap"}\n');
    const lines = (await c.read((s) => s.split("\n").length > 4)).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ id: 1, ok: true, result: null });
    expect(lines[1]).toEqual({ id: 2, ok: true, result: 1700000090 });
    expect(lines[2].ok).toBe(false);
    expect(lines[3].result.total).toBe(5100);
    c.sock.destroy();
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
    emu.device.evalExpr("var edges = []; setWatch(function (e) { edges.push(e.state); LED1.write(e.state); }, BTN, { repeat: true, edge: 'both' });");
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

  it.skipIf(!fs.existsSync(path.join(packageRoot(), "host", "dist", "hwtotp.mjs")) || !fs.existsSync(defaultFirmwarePath()))(
    "runs as `hwtotp emulate` and serves `hwtotp info --device`", async () => {
      const bin = path.join(packageRoot(), "host", "bin", "hwtotp.js");
      const child = spawn(process.execPath, [bin, "emulate", "--json", "--board", "bangle2"], { stdio: ["ignore", "pipe", "pipe"], detached: true });
      try {
        const first = await new Promise<string>((resolve, reject) => {
          let out = "";
          child.stdout.on("data", (b: Buffer) => {
            out += b.toString();
            if (out.includes("\n")) resolve(out);
          });
          child.on("exit", (code) => reject(new Error("emulate exited " + code)));
          setTimeout(() => reject(new Error("emulate printed nothing")), 15000);
        });
        const info = JSON.parse(first);
        expect(info.device).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
        const out = await new Promise<string>((resolve) => {
          const p = spawn(process.execPath, [bin, "info", "--device", info.device, "--json"], { stdio: ["ignore", "pipe", "inherit"] });
          let s = "";
          p.stdout.on("data", (b: Buffer) => (s += b.toString()));
          p.on("exit", () => resolve(s));
        });
        expect(JSON.parse(out).board).toBe("BANGLEJS2");
      } finally {
        if (child.pid) process.kill(-child.pid, "SIGTERM");
      }
    }, 30000);
});
