// The one rollback helper of the Keystone and Ceph enrolments: undo steps newest first, every one even when
// another fails, and a report that never says "rolled back" of an undo that failed (it names it, by code).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DeviceNotFoundError, EXIT } from "../../../host/src/errors.ts";
import { Rollback, leftovers, rollbackSentence, rolledBack } from "../../../host/src/integrations/rollback.ts";
import { EnrollError, enrollKeystone } from "../../../host/src/integrations/keystone/enroll.ts";
import { KeystoneClient } from "../../../host/src/integrations/keystone/client.ts";
import { PartialEnrollError, enrollCeph } from "../../../host/src/integrations/ceph/enroll.ts";
import { startEmuSlots, stopEmuSlots } from "../../harness/emu-slots.ts";
import { fakeKeystone } from "../../harness/keystone-fake.ts";
import { fakeAdmin } from "../../harness/ceph-fake.ts";

// The token is the firmware in the emulator (test/harness/emu-slots.ts); only its delete is made to fail.
describe("Rollback", () => {
  afterEach(() => stopEmuSlots());

  it("undoes newest first, keeps going past a failed undo, and reports that undo as not rolled back, by its code", async () => {
    const order: string[] = [];
    const undo = new Rollback();
    undo.add('slot "ks" on the token', async () => {
      order.push("slot");
      throw new DeviceNotFoundError("The device went away.", true);
    });
    undo.add("credential c1 in Keystone", async () => order.push("credential"));
    undo.add("MFA options of alice", async () => order.push("mfa"));
    const logged: string[] = [];
    const r = await undo.run((s) => logged.push(s));
    expect(order).toEqual(["mfa", "credential", "slot"]);
    expect(r.undone).toEqual(["MFA options of alice", "credential c1 in Keystone"]);
    expect(r.failed).toEqual([{ what: 'slot "ks" on the token', code: "E_DISCONNECTED", message: "The device went away." }]);
    expect(rolledBack(r)).toBe(false);
    expect(logged).toEqual(["Rolled back: MFA options of alice.", "Rolled back: credential c1 in Keystone."]);
    expect(logged.join()).not.toContain("slot");
    const sentence = rollbackSentence(r);
    expect(sentence).toMatch(/^NOT rolled back: slot "ks" on the token \(E_DISCONNECTED: The device went away\)/);
    expect(sentence).not.toMatch(/^rolled back/);
    expect(leftovers(r)).toEqual(['slot "ks" on the token (E_DISCONNECTED: The device went away)']);
    expect(undo.size).toBe(0);
    expect(await undo.run()).toEqual({ undone: [], failed: [] }); // each undo runs once
  });

  it("says rolled back only when every undo succeeded; a plain error without a code is E_HOST", async () => {
    const ok = new Rollback();
    ok.add("a", async () => undefined);
    expect(rollbackSentence(await ok.run())).toBe("rolled back (a)");
    const bad = new Rollback();
    bad.add("b", async () => {
      throw new Error("no");
    });
    const r = await bad.run();
    expect(r.failed).toEqual([{ what: "b", code: "E_HOST", message: "no" }]);
    expect(rollbackSentence(r)).toBe("NOT rolled back: b (E_HOST: no)");
  });

  it("Keystone enrolment: a slot that cannot be deleted is named as left behind, and the error is E_PARTIAL", async () => {
    const ks = fakeKeystone({ failOn: "credentials" });
    ks.addUser("admin", "adminpw", true);
    ks.addUser("alice", "alicepw");
    const token = await startEmuSlots();
    token.fail("delete", new DeviceNotFoundError("The device went away.", true));
    const device = token.device;
    const client = new KeystoneClient({ authUrl: ks.url, fetch: ks.fetch });
    const e = await enrollKeystone({
      client,
      device,
      caller: { user: { name: "admin" }, password: "adminpw" },
      targetUser: "alice",
      slot: "ks",
      rules: "auto",
    }).catch((x) => x);
    expect(e).toBeInstanceOf(EnrollError);
    expect(e.code).toBe("E_PARTIAL");
    expect(e.message).not.toMatch(/was rolled back/);
    expect(e.message).toMatch(/NOT rolled back: slot "ks" on the token \(E_DISCONNECTED/);
    expect(e.leftovers).toEqual(['slot "ks" on the token (E_DISCONNECTED: The device went away)']);
    expect(await token.slotNames()).toContain("ks");
  });

  it("Ceph enrolment: RGW refuses the first pin and the slot cannot be deleted: the error says so, E_PARTIAL", async () => {
    const f = fakeAdmin();
    const token = await startEmuSlots();
    token.fail("delete", new DeviceNotFoundError("The device went away.", true));
    const dev = token.device;
    const stateDir = mkdtempSync(join(tmpdir(), "hwtotp-mfa-"));
    const e = await enrollCeph({ uid: "alice", serial: "hw-r1", run: true, admin: f.admin({ FAKE_CHECK: "refuse" }), stateDir }, dev).catch(
      (x) => x,
    );
    expect(e).toBeInstanceOf(PartialEnrollError);
    expect(e.code).toBe("E_PARTIAL");
    expect(e.causeCode).toBe("E_HOST");
    expect(e.exitCode).toBe(EXIT.ERROR);
    expect(e.message).toMatch(/refused the token's first pin for hw-r1/);
    expect(e.message).not.toMatch(/rolled back the slot/);
    expect(e.message).toMatch(
      /NOT rolled back: slot ceph-alice on the token \(E_DISCONNECTED: The device went away\); rolled back: RGW token hw-r1 of user alice/,
    );
    expect(e.rollback.failed.map((x: { code: string }) => x.code)).toEqual(["E_DISCONNECTED"]);
    expect(f.calls().map((c) => c.args[c.args.indexOf("mfa") + 1])).toEqual(["list", "create", "check", "remove"]);
  });
});
