// The CLI against a real board: runs only when HWTOTP_DEVICE names one (pending otherwise, as in
// yubikey-manager's device tests). It adds a slot "hwtotp-test", checks a code against otpauth at the
// device's time, and deletes the slot again; nothing else on the board is touched.
import * as OTPAuth from "otpauth";
import { describe, expect, it } from "vitest";
import { ensureHostBuilt, privateEnv, runCli } from "../harness/cli-harness.ts";

const device = process.env.HWTOTP_DEVICE;
const B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

describe.runIf(!!device)("a real board (HWTOTP_DEVICE=" + (device ?? "unset") + ")", () => {
  it("answers info, adds, reads a code equal to otpauth's, and deletes", async () => {
    await ensureHostBuilt();
    const env = privateEnv({ HWTOTP_DEVICE: device });
    const info = await runCli(["info", "--json"], { env });
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout).proto).toBe(1);
    await runCli(["delete", "hwtotp-test", "--force"], { env });
    const add = await runCli(["add", "hwtotp-test", "--secret", "-"], { env, input: B32 });
    expect(add.code, add.stderr).toBe(0);
    try {
      const r = await runCli(["code", "hwtotp-test", "--json"], { env });
      expect(r.code, r.stderr).toBe(0);
      const d = JSON.parse(r.stdout);
      expect(d.codes[0].code).toBe(new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(B32) }).generate({ timestamp: d.t * 1000 }));
    } finally {
      expect((await runCli(["delete", "hwtotp-test", "--force"], { env })).code).toBe(0);
    }
  }, 60000);
});
