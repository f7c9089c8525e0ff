// The token defends itself (issue 11) on the real Espruino interpreter, each Linux build of ../shared/espruino
// (no button there: the PIN is the only guard): PIN set, lock, unlock, a restart that locks again, 8 wrong PINs
// that wipe, and no pad or seed readable in its flash image (espruino.flash) with a PIN set or after a delete.
// Pending, with the reason, without the interpreter or socat.
import { createHash } from "node:crypto";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERR, LIMITS, type Reply } from "../../protocol/index.ts";
import { dataOf, espruinoBuilds, flashedInterpreter, LineClient, missingReason, type Interpreter } from "../harness/real-interpreter.ts";
import { pending } from "../harness/real-suites.ts";

const why = missingReason();
if (why) pending("security", why);
const builds = why ? [] : espruinoBuilds();
const PIN = "correct horse 42";

const keyOf = (s: string): string => createHash("sha1").update(s).digest("hex");

/** The windows a reader of the flash image would look for: the key and its inner and outer pads (in the key). */
function found(image: Buffer, keyHex: string): number {
  const k = Buffer.from(keyHex, "hex");
  const pad = (x: number) => Buffer.from([...k].map((b) => b ^ x));
  return [k, pad(0x36), pad(0x5c)].filter((w) => image.indexOf(w.subarray(0, 16)) >= 0 || image.indexOf(w.subarray(4, 20)) >= 0).length;
}

function otp(keyHex: string, t: number): string {
  return OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromHex(keyHex), timestamp: t * 1000 });
}

function err(r: Reply, e: string): Extract<Reply, { ok: false }> {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  expect((r as Extract<Reply, { ok: false }>).e).toBe(e);
  return r as Extract<Reply, { ok: false }>;
}

for (const b of builds) {
  describe("real interpreter " + b.name + ": PIN, lockout, seeds at rest", () => {
    let it0: Interpreter;
    let c: LineClient;
    beforeAll(async () => {
      const r = await flashedInterpreter(b.binary);
      it0 = r.it;
      c = r.c;
    }, 180000);
    afterAll(async () => {
      if (c) await c.close().catch(() => {});
      if (it0) await it0.stop();
    });

    const codeOk = async (name: string, key: string) => {
      const d = dataOf(await c.request("code", { name }));
      expect(d.codes[0].code, name).toBe(otp(key, d.t));
    };
    const reopen = async () => {
      await c.close();
      await it0.restart();
      c = await LineClient.open(it0.tty);
    };

    it("no pad after a delete; with a PIN set no pad at all; codes need an unlock; a restart locks again", async () => {
      const [ka, kb, kc] = [keyOf("a"), keyOf("b"), keyOf("c")];
      for (const [n, k] of [
        ["a", ka],
        ["b", kb],
        ["c", kc],
      ])
        dataOf(await c.request("add", { name: n, key: k }));
      expect(found(it0.flashImage(), ka)).toBe(2); // the detector sees a plain token's pads (never the key itself)
      dataOf(await c.request("delete", { name: "c" }));
      expect(found(it0.flashImage(), kc)).toBe(0);
      const h0 = dataOf(await c.request("hello"));
      expect(h0.guard).toEqual({ button: false, pin: false });
      expect(dataOf(await c.request("pin", { next: PIN }))).toEqual({ set: true, locked: false, tries: LIMITS.PIN_TRIES, idle: 0 });
      expect(found(it0.flashImage(), ka)).toBe(0);
      expect(found(it0.flashImage(), kb)).toBe(0);
      await codeOk("a", ka);
      dataOf(await c.request("lock"));
      err(await c.request("code", { name: "a" }), ERR.LOCKED);
      err(await c.request("list"), ERR.LOCKED);
      const t0 = performance.now();
      expect(dataOf(await c.request("unlock", { pin: PIN })).locked).toBe(false);
      console.log(
        `[real] ${b.name}: unlock (PBKDF2-SHA256, 10,000 rounds, and its two Storage writes) ${(performance.now() - t0).toFixed(0)} ms wall`,
      );
      await codeOk("b", kb);
      await reopen();
      const h = dataOf(await c.request("hello"));
      expect(h.pin).toEqual({ set: true, locked: true, tries: 8, idle: 0 });
      expect(h.guard).toEqual({ button: false, pin: true });
      err(await c.request("code", { name: "a" }), ERR.LOCKED);
      expect(found(it0.flashImage(), ka) + found(it0.flashImage(), kb)).toBe(0);
      dataOf(await c.request("unlock", { pin: PIN }));
      await codeOk("a", ka);
      await codeOk("b", kb);
    }, 120000);

    it("frames with __proto__ (which would kill the interpreter through a non-object prototype) get E_FRAME", async () => {
      for (const line of ['{"__proto__":1,"v":1,"id":8,"op":"time"}', '{"v":1,"id":9,"op":"code","a":{"name":{"__proto__":null}}}']) {
        const before = c.lines.filter((l) => l.reply).length;
        await c.raw(line + "\n");
        await c.waitReplies(before + 1);
        const r = c.lines.filter((l) => l.reply).pop()!.reply!;
        expect(r).toMatchObject({ ok: false, e: ERR.FRAME, id: null });
        expect(it0.alive()).toBe(true);
      }
      expect(dataOf(await c.request("hello")).slots.used).toBe(2);
    }, 60000);

    it(`${LIMITS.PIN_TRIES} wrong PINs (a restart between them changes nothing) wipe every slot and the PIN`, async () => {
      dataOf(await c.request("lock"));
      for (let k = 1; k <= 3; k++)
        expect(err(await c.request("unlock", { pin: "0000" }), ERR.PIN).d).toEqual({ tries: 8 - k, wiped: false });
      await reopen();
      expect(dataOf(await c.request("hello")).pin.tries).toBe(5);
      for (let k = 4; k < LIMITS.PIN_TRIES; k++) err(await c.request("unlock", { pin: "0000" }), ERR.PIN);
      const last = err(await c.request("unlock", { pin: "0000" }), ERR.PIN);
      expect(last.d).toEqual({ tries: 0, wiped: true });
      const h = dataOf(await c.request("hello"));
      expect(h.slots.used).toBe(0);
      expect(h.pin.set).toBe(false);
      expect(found(it0.flashImage(), keyOf("a")) + found(it0.flashImage(), keyOf("b"))).toBe(0);
      expect(
        it0
          .storageFiles()
          .filter((f) => !f.erased)
          .map((f) => f.name)
          .filter((n) => /^hwt\.[sp]/.test(n)),
      ).toEqual([]);
    }, 120000);
  });
}
