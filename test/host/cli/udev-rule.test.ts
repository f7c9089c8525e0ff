// `hwtotp udev-rule`: the rule for the board (USB 0483:5740) at mode 0600 with the uaccess tag, numbered
// before systemd's 73-seat-late.rules, and nothing about the dialout group.
import { describe, expect, it } from "vitest";
import { ensureHostBuilt, runCli } from "../../harness/cli-harness.ts";

describe("hwtotp udev-rule", () => {
  it("prints the rule: tty of 0483:5740, MODE 0600, TAG+=uaccess, with how to install it", async () => {
    await ensureHostBuilt();
    const r = await runCli(["udev-rule"]);
    expect(r.code, r.stderr).toBe(0);
    const rules = r.stdout.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(rules).toEqual(['SUBSYSTEM=="tty", ATTRS{idVendor}=="0483", ATTRS{idProduct}=="5740", MODE="0600", TAG+="uaccess"']);
    expect(r.stdout).toMatch(
      /^# Install: hwtotp udev-rule \| sudo tee \/etc\/udev\/rules\.d\/70-hwtotp\.rules && sudo udevadm control --reload/m,
    );
    expect(rules.join("\n")).not.toMatch(/GROUP/); // no group access at all: the ACL is the only way in
  });

  it("--json gives the file name and the rule", async () => {
    const r = await runCli(["udev-rule", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o).toMatchObject({ file: "/etc/udev/rules.d/70-hwtotp.rules", vid: "0483", pid: "5740" });
    // 70- sorts before 73-seat-late.rules, which turns the uaccess tag into the seat user's ACL
    expect(o.file.split("/").pop() < "73-seat-late.rules").toBe(true);
    expect(o.rule).toContain('TAG+="uaccess"');
  });
});
