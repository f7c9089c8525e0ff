// Every hwtotp command: its name and the module that registers it (`register(program)`), in the order help
// lists them. Add a command with one line here. This is the one command list: main.ts loads only the module
// argv names (a cold start then parses one command's code, about 90 ms less than all of them: bench), and
// all of them for help, `help CMD`, an unknown word or anything unusual. Keep heavy imports (serialport,
// otpauth, qrcode, the emulator) inside actions. Each module registers exactly its own command
// (test/host/cli/lazy.test.ts).
import type { Command } from "commander";

export type Register = (program: Command) => void;

export const COMMANDS: { readonly [name: string]: () => Promise<{ register: Register }> } = {
  devices: () => import("./devices.ts"),
  info: () => import("./info.ts"),
  list: () => import("./list.ts"),
  add: () => import("./add.ts"),
  code: () => import("./code.ts"),
  delete: () => import("./delete.ts"),
  pin: () => import("./pin.ts"),
  unlock: () => import("./unlock.ts"),
  lock: () => import("./lock.ts"),
  time: () => import("./time.ts"),
  "resync-codes": () => import("./resync-codes.ts"),
  exec: () => import("./exec.ts"),
  daemon: () => import("./daemon.ts"),
  audit: () => import("./audit.ts"),
  demo: () => import("./demo.ts"),
  keystone: () => import("./keystone.ts"),
  ceph: () => import("./ceph.ts"),
  s3: () => import("./s3.ts"),
  emulate: () => import("./emulate.ts"),
  flash: () => import("./flash.ts"),
  "udev-rule": () => import("./udev-rule.ts"),
};

/** Every command's register function, in list order. */
export async function allCommands(): Promise<Register[]> {
  return (await Promise.all(Object.values(COMMANDS).map((load) => load()))).map((m) => m.register);
}
