// hwtotp udev-rule: prints the udev rule that gives the board's tty to the user logged in at the seat
// (systemd-logind's `uaccess` tag: an ACL for that user alone) at mode 0600, instead of the `dialout` group,
// which would give every member every serial port, and the token with them, for good.
import type { Command } from "commander";
import { ESPRUINO_PID, ESPRUINO_VID } from "../../link/discover.ts";

/** Numbered below 73, where systemd's 73-seat-late.rules turns the uaccess tag into the seat user's ACL. */
export const UDEV_RULE_FILE = "/etc/udev/rules.d/70-hwtotp.rules";

export const UDEV_RULE =
  "# hwtotp: the Espruino board (USB " +
  ESPRUINO_VID +
  ":" +
  ESPRUINO_PID +
  ", the STM32 Virtual COM Port) for the user at the seat only.\n" +
  "# Mode 0600 (no dialout group access); uaccess gives the logged-in user an ACL while the session lasts.\n" +
  "# Install: hwtotp udev-rule | sudo tee " +
  UDEV_RULE_FILE +
  " && sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=tty\n" +
  'SUBSYSTEM=="tty", ATTRS{idVendor}=="' +
  ESPRUINO_VID +
  '", ATTRS{idProduct}=="' +
  ESPRUINO_PID +
  '", MODE="0600", TAG+="uaccess"\n';

export function register(program: Command): void {
  program
    .command("udev-rule")
    .description("print the udev rule that gives the board to the logged-in user (mode 0600, uaccess) instead of the dialout group")
    .option("--json", "print one JSON document on stdout")
    .action((opts: { json?: boolean }) => {
      if (opts.json) {
        process.stdout.write(
          JSON.stringify({ file: UDEV_RULE_FILE, rule: UDEV_RULE, vid: ESPRUINO_VID, pid: ESPRUINO_PID }, null, 2) + "\n",
        );
        return;
      }
      process.stdout.write(UDEV_RULE);
      if (process.stdout.isTTY)
        process.stderr.write("Install it as " + UDEV_RULE_FILE + " (see the comment above), then unplug and plug the board back.\n");
    });
}
