// Every hwtotp command, one module each exporting `register(program)`. Add your command with one import
// line and one entry below; keep heavy imports (serialport, otpauth, qrcode, the emulator) inside actions.
// For a fast start also add it to LAZY in ../main.ts (then only its module loads when argv names it);
// without that it still works, loaded with all the others.
import type { Command } from "commander";
import { register as devices } from "./devices.ts";
import { register as info } from "./info.ts";
import { register as list } from "./list.ts";
import { register as add } from "./add.ts";
import { register as code } from "./code.ts";
import { register as del } from "./delete.ts";
import { register as pin } from "./pin.ts";
import { register as unlock } from "./unlock.ts";
import { register as lock } from "./lock.ts";
import { register as time } from "./time.ts";
import { register as resyncCodes } from "./resync-codes.ts";
import { register as exec } from "./exec.ts";
import { register as daemon } from "./daemon.ts";
import { register as audit } from "./audit.ts";
import { register as demo } from "./demo.ts";
import { register as keystone } from "./keystone.ts";
import { register as ceph } from "./ceph.ts";
import { register as s3 } from "./s3.ts";
import { register as emulate } from "./emulate.ts";
import { register as flash } from "./flash.ts";
import { register as udevRule } from "./udev-rule.ts";

export const commands: Array<(program: Command) => void> = [
  devices,
  info,
  list,
  add,
  code,
  del,
  pin,
  unlock,
  lock,
  time,
  resyncCodes,
  exec,
  daemon,
  audit,
  demo,
  keystone,
  ceph,
  s3,
  emulate,
  flash,
  udevRule,
];
