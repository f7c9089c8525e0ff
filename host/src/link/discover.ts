// Finds attached Espruino boards by USB VID 0483 / PID 5740 (STMicroelectronics Virtual COM Port, which
// Espruino's USB CDC uses). Reads Linux sysfs directly, because serialport's list() needs udevadm, which is
// missing on many machines ("spawn udevadm ENOENT"); falls back to list() elsewhere.
import fs from "node:fs";
import path from "node:path";
import { DeviceNotFoundError } from "../errors.ts";

export const ESPRUINO_VID = "0483";
export const ESPRUINO_PID = "5740";

export interface Candidate {
  path: string;
  vid: string | null;
  pid: string | null;
  manufacturer: string | null;
  product: string | null;
  serial: string | null;
  espruino: boolean;
}

function readAttr(dir: string, name: string): string | null {
  try {
    return fs.readFileSync(path.join(dir, name), "utf8").trim() || null;
  } catch {
    return null;
  }
}

/** Serial ports from /sys/class/tty (ttyACM*, ttyUSB*), with the USB attributes of their device. */
export function listSysfs(sysRoot = "/sys", devRoot = "/dev"): Candidate[] | null {
  const ttyDir = path.join(sysRoot, "class/tty");
  let names: string[];
  try {
    names = fs.readdirSync(ttyDir);
  } catch {
    return null;
  }
  const out: Candidate[] = [];
  for (const name of names.sort()) {
    if (!/^tty(ACM|USB)\d+$/.test(name)) continue;
    let dir: string | null;
    try {
      dir = fs.realpathSync(path.join(ttyDir, name, "device"));
    } catch {
      dir = null;
    }
    // Walk up from the interface to the USB device that holds idVendor/idProduct.
    let usb: string | null = null;
    for (let d = dir; d && d !== path.dirname(d) && d.startsWith(sysRoot); d = path.dirname(d)) {
      if (readAttr(d, "idVendor")) {
        usb = d;
        break;
      }
    }
    const vid = usb ? readAttr(usb, "idVendor") : null;
    const pid = usb ? readAttr(usb, "idProduct") : null;
    out.push({
      path: path.join(devRoot, name),
      vid,
      pid,
      manufacturer: usb ? readAttr(usb, "manufacturer") : null,
      product: usb ? readAttr(usb, "product") : null,
      serial: usb ? readAttr(usb, "serial") : null,
      espruino: vid?.toLowerCase() === ESPRUINO_VID && pid?.toLowerCase() === ESPRUINO_PID,
    });
  }
  return out;
}

async function listSerialport(): Promise<Candidate[]> {
  try {
    const { SerialPort } = await import("serialport");
    const ports = await SerialPort.list();
    return ports.map((p) => {
      const vid = p.vendorId ? p.vendorId.toLowerCase() : null;
      const pid = p.productId ? p.productId.toLowerCase() : null;
      return {
        path: p.path,
        vid,
        pid,
        manufacturer: p.manufacturer ?? null,
        product: null,
        serial: p.serialNumber ?? null,
        espruino: vid === ESPRUINO_VID && pid === ESPRUINO_PID,
      };
    });
  } catch {
    return [];
  }
}

/** Every serial port we can see, Espruino boards first. */
export async function listCandidates(): Promise<Candidate[]> {
  const sys = listSysfs();
  const all = sys ?? (await listSerialport());
  return all.sort((a, b) => Number(b.espruino) - Number(a.espruino));
}

export function describeCandidate(c: Candidate): string {
  const id = c.vid && c.pid ? c.vid + ":" + c.pid : "no USB id";
  const what = [c.manufacturer, c.product].filter(Boolean).join(" ");
  return c.path + " (" + id + (what ? ", " + what : "") + (c.serial ? ", serial " + c.serial : "") + ")";
}

/** The one attached Espruino board, or an error that lists what was seen and what to do. */
export async function discoverDevice(list: () => Promise<Candidate[]> = listCandidates): Promise<string> {
  const all = await list();
  const boards = all.filter((c) => c.espruino);
  if (boards.length === 1) return boards[0].path;
  const hint = "Name one with --device PATH (or the unix:PATH that `hwtotp emulate` prints), or set HWTOTP_DEVICE.";
  if (boards.length > 1) {
    throw new DeviceNotFoundError("Found " + boards.length + " Espruino boards: " + boards.map(describeCandidate).join("; ") + ". " + hint);
  }
  const others = all.length ? " Other serial ports: " + all.map(describeCandidate).join("; ") + "." : " No serial ports at all.";
  throw new DeviceNotFoundError("No Espruino board found (USB " + ESPRUINO_VID + ":" + ESPRUINO_PID + ")." + others + " " + hint);
}
