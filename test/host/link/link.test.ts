// Link addresses and discovery: sysfs is read directly (serialport's list() needs udevadm), Espruino
// boards are picked by USB 0483:5740, and "none" or "several" gives a sentence listing what was seen.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAddress } from "../../../host/src/link/index.ts";
import { type Candidate, describeCandidate, discoverDevice, listSysfs } from "../../../host/src/link/discover.ts";

describe("parseAddress", () => {
  it.each([
    ["tcp://127.0.0.1:4321", { kind: "tcp", host: "127.0.0.1", port: 4321 }],
    ["tcp://[::1]:80", { kind: "tcp", host: "::1", port: 80 }],
    ["/dev/ttyACM0", { kind: "serial", path: "/dev/ttyACM0", baudRate: 9600 }],
    ["serial:/dev/pts/7?baud=115200", { kind: "serial", path: "/dev/pts/7", baudRate: 115200 }],
    ["unix:/run/x.sock", { kind: "unix", path: "/run/x.sock" }],
  ])("reads %s", (text, want) => {
    expect(parseAddress(text)).toMatchObject(want);
  });
  it.each(["tcp://host", "tcp://h:0", "tcp://h:70000", "/dev/x?baud=fast", "", "unix:"])("refuses %j", (text) => {
    expect(() => parseAddress(text)).toThrow(/tcp:\/\/HOST:PORT|baud|empty|give unix:PATH/);
  });
});

function fakeSysfs(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-sys-"));
  const mk = (tty: string, usb: string, attrs: Record<string, string>) => {
    const dev = path.join(root, "devices/pci0000:00/usb1", usb);
    const intf = path.join(dev, usb + ":1.0");
    fs.mkdirSync(path.join(intf, "tty", tty), { recursive: true });
    for (const [k, v] of Object.entries(attrs)) fs.writeFileSync(path.join(dev, k), v + "\n");
    fs.mkdirSync(path.join(root, "class/tty", tty), { recursive: true });
    fs.symlinkSync(intf, path.join(root, "class/tty", tty, "device"));
  };
  mk("ttyACM0", "1-1", {
    idVendor: "0483",
    idProduct: "5740",
    manufacturer: "STMicroelectronics",
    product: "Espruino Pico",
    serial: "3276",
  });
  mk("ttyUSB0", "1-2", { idVendor: "10c4", idProduct: "ea60", product: "CP2102" });
  fs.mkdirSync(path.join(root, "class/tty/tty1"), { recursive: true });
  return root;
}

describe("listSysfs", () => {
  it("finds serial ports and marks Espruino boards by VID/PID", () => {
    const root = fakeSysfs();
    const c = listSysfs(root, "/dev")!;
    expect(c.map((x) => [x.path, x.espruino])).toEqual([
      ["/dev/ttyACM0", true],
      ["/dev/ttyUSB0", false],
    ]);
    expect(describeCandidate(c[0])).toBe("/dev/ttyACM0 (0483:5740, STMicroelectronics Espruino Pico, serial 3276)");
  });
  it("returns null without sysfs, so discovery can fall back", () => {
    expect(listSysfs("/nonexistent-sys")).toBeNull();
  });
});

describe("discoverDevice", () => {
  const board = (p: string, serial: string): Candidate => ({
    path: p,
    vid: "0483",
    pid: "5740",
    manufacturer: "STMicroelectronics",
    product: "Espruino Pico",
    serial,
    espruino: true,
  });
  const other: Candidate = {
    path: "/dev/ttyUSB0",
    vid: "10c4",
    pid: "ea60",
    manufacturer: null,
    product: "CP2102",
    serial: null,
    espruino: false,
  };

  it("picks the one Espruino board among other ports", async () => {
    expect(await discoverDevice(async () => [board("/dev/ttyACM3", "1"), other])).toBe("/dev/ttyACM3");
  });
  it("lists every board when there are several, and says how to choose", async () => {
    const err = await discoverDevice(async () => [board("/dev/ttyACM0", "1"), board("/dev/ttyACM1", "2")]).catch((e) => e);
    expect(err).toMatchObject({ exitCode: 3 });
    expect(err.message).toMatch(
      /Found 2 Espruino boards: \/dev\/ttyACM0 .*serial 1\); \/dev\/ttyACM1 .*serial 2\)\. Name one with --device/,
    );
  });
  it("lists the other ports when there is no board", async () => {
    const err = await discoverDevice(async () => [other]).catch((e) => e);
    expect(err.message).toMatch(/No Espruino board found \(USB 0483:5740\)\. Other serial ports: \/dev\/ttyUSB0 \(10c4:ea60, CP2102\)\./);
    const none = await discoverDevice(async () => []).catch((e) => e);
    expect(none.message).toMatch(
      /No serial ports at all\. Name one with --device PATH \(or the unix:PATH that `hwtotp emulate` prints\), or set HWTOTP_DEVICE\./,
    );
  });
});
