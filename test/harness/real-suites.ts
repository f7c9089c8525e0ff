// The real-interpreter suites, one describe per Linux build (real.test.ts registers them):
//
// - VectorJob + registerVectors: the vector suite (test/harness/vector-suite.ts) on a flashed interpreter whose
//   clock libfaketime freezes at each case's time, worked in the background from the start of the file.
// - registerDevice: `hwtotp flash` itself (the CLI, over the TCP bridge), the flash image (.bootcde first,
//   byte for byte, then .boot0), slot add/list/delete/code/wipe, 32 slots, restarts (a new process on the same
//   folder), bad frames, and the host CLI on the pty — on the real clock.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomCases, rfc4226Cases, rfc6238Cases, runVectorSuite, type VectorCase, type VectorImpl } from "./vector-suite.ts";
import { ensureHostBuilt, privateEnv, runCli } from "./cli-harness.ts";
import { MAX_REQUEST_LINE } from "../../protocol/index.ts";
import {
  ROOT,
  dataOf,
  faketimeLibrary,
  flashedInterpreter,
  Interpreter,
  missingReason,
  type Build,
  type LineClient,
} from "./real-interpreter.ts";

const FIRMWARE = path.join(ROOT, "firmware/dist/firmware.js");
const BOOT0 = path.join(ROOT, "firmware/dist/boot0.js");
const HAVE_OATHTOOL = spawnSync("sh", ["-c", "command -v oathtool"]).status === 0;
const ALGS = ["SHA1", "SHA256", "SHA512"];

function refCode(keyHex: string, t: number, alg = "SHA1", digits = 6, period = 30): string {
  return OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromHex(keyHex), algorithm: alg, digits, period, timestamp: t * 1000 });
}

/** oathtool's code at Unix time t (whole seconds: oathtool has no fractions; the step is the same). */
function oathCode(keyHex: string, t: number, alg = "SHA1", digits = 6, period = 30): string {
  const r = spawnSync(
    "oathtool",
    ["--totp=" + alg, "--digits=" + digits, "--time-step-size=" + period + "s", "--now=@" + Math.floor(t), keyHex],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error("oathtool failed: " + r.stderr);
  return r.stdout.trim();
}

/** Deterministic keys for the device tests (not secrets). */
function keyHex(i: number, bytes = 20): string {
  let h = "";
  for (let k = 0; k < bytes; k++) h += ((i * 37 + k * 11 + 5) & 255).toString(16).padStart(2, "0");
  return h;
}

/**
 * The vector suite's device work for one build, run in the background: an interpreter flashed on the real
 * clock, restarted under a frozen clock (libfaketime), then one request at a time per case. Every case list
 * the suite will ask for is queued at once (prefetch), so the interpreters of all builds work while the device
 * tests run: vitest gives this 2-core machine one worker, and the interpreters are processes of their own.
 */
export class VectorJob {
  private dev: Interpreter | null = null;
  private c: LineClient | null = null;
  private queue: Promise<unknown>;
  private results = new Map<string, Promise<string[]>>();
  private cpu0 = 0;
  private t0 = Date.now();
  codes = 0;
  static readonly BATCH = 32;

  constructor(readonly build: Build) {
    this.queue = Promise.reject(new Error("VectorJob.start() was not called"));
    this.queue.catch(() => {});
  }

  /** Flashes a fresh interpreter and queues every case list of the suite (returns at once). */
  start(): void {
    this.queue = (async () => {
      const r = await flashedInterpreter(this.build.binary, { fakeTime: 1700000000, fastIdle: Number(process.env.FI || 50) });
      this.dev = r.it;
      this.c = r.c;
      const hello = dataOf(await this.c.request("hello"));
      if (!/^LINUX/.test(hello.board) || JSON.stringify(hello.algs) !== JSON.stringify(ALGS)) {
        throw new Error("unexpected hello: board " + hello.board + ", algs " + JSON.stringify(hello.algs));
      }
      this.cpu0 = this.dev.cpuMs();
      this.t0 = Date.now();
    })();
    this.queue.catch(() => {});
    this.prefetch();
  }

  /** The implementation the vector suite runs; generate() picks up prefetched results. */
  impl(): VectorImpl {
    return {
      name: "firmware bundle on the real interpreter (" + this.build.name + ")",
      algs: ALGS,
      generate: (cases) => this.run(cases),
    };
  }

  /** Queues the case lists runVectorSuite will ask for (same cases, same order). */
  private prefetch(): void {
    const impl = this.impl();
    for (const list of [rfc4226Cases(impl), rfc6238Cases(impl), randomCases(impl)]) {
      if (list.length) this.run(list.map((c) => ({ keyHex: c.keyHex, alg: c.alg, digits: c.digits, period: c.period, t: c.t })));
    }
  }

  /** Resolves when everything queued so far is done (or failed: the tests then see why). */
  async settled(): Promise<void> {
    await this.queue.catch(() => {});
  }

  run(cases: VectorCase[]): Promise<string[]> {
    const key = JSON.stringify(cases);
    let p = this.results.get(key);
    if (!p) {
      p = this.queue.then(() => this.compute(cases));
      p.catch(() => {});
      this.results.set(key, p);
      this.queue = p;
    }
    return p;
  }

  /** Interpreter exits on the Linux build's input ASSERT that a batch was rerun after (see compute). */
  readonly crashes: string[] = [];

  private async compute(cases: VectorCase[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < cases.length; i += VectorJob.BATCH) {
      const batch = cases.slice(i, i + VectorJob.BATCH);
      for (let attempt = 1; ; attempt++) {
        try {
          const codes = await this.batch(batch, i);
          out.push(...codes);
          this.codes += codes.length;
          break;
        } catch (e) {
          // Under CPU load the Linux build's console input can trip ASSERT(len <= IOEVENT_MAX_LEN) in
          // src/jsdevices.c and exit (its stdin reader races the main loop; interpreter.ts pacedWriter): a
          // harness limit a board does not have. Only that exit reruns the batch on a restarted interpreter
          // (Storage kept); any other failure, or a third crash, fails the suite with the interpreter's log.
          const dev = this.dev!;
          const assert = /ASSERT[^\r\n]*jsdevices\.c[^\r\n]*/.exec(dev.log());
          if (dev.alive() || !assert || attempt >= 3) {
            if (!dev.alive()) (e as Error).message += "\n--- the interpreter exited; socat: " + dev.log().slice(-600);
            throw e;
          }
          this.crashes.push(assert[0]);
          await this.c?.close().catch(() => {});
          await dev.restart();
          this.c = await dev.ready();
        }
      }
    }
    return out;
  }

  private async batch(batch: VectorCase[], i: number): Promise<string[]> {
    const dev = this.dev!;
    const c = this.c!;
    const out: string[] = [];
    {
      dataOf(await c.request("wipe", { confirm: "wipe" }, 60000));
      // 8 requests in flight, not 32: a burst of several KB into a busy Linux build is what trips its input
      // ASSERT (interpreter.ts, withCrashRetry)
      for (let j = 0; j < batch.length; j += 8) {
        const adds = await Promise.all(
          batch
            .slice(j, j + 8)
            .map((k, n) =>
              c.request("add", { name: "v" + (j + n), key: k.keyHex, alg: k.alg, digits: k.digits, period: k.period }, 120000),
            ),
        );
        adds.forEach((r) => dataOf(r));
      }
      for (let j = 0; j < batch.length; j++) {
        dev.setFakeTime(batch[j].t);
        const d = dataOf(await c.request("code", { name: "v" + j }, 30000));
        if (!(Math.abs(d.t - batch[j].t) < 1e-3))
          throw new Error("case " + (i + j) + ": the device computed at " + d.t + ", not at " + batch[j].t);
        out.push(d.codes[0].code);
      }
    }
    return out;
  }

  summary(): string {
    return (
      this.build.name +
      " vectors: " +
      this.codes +
      " codes (each in its own slot) in " +
      ((Date.now() - this.t0) / 1000).toFixed(1) +
      " s" +
      (this.crashes.length
        ? " (" + this.crashes.length + " batch(es) rerun after the interpreter's input ASSERT: " + this.crashes[0] + ")"
        : "") +
      (this.dev && this.dev.alive()
        ? ", interpreter CPU " + ((this.dev.cpuMs() - this.cpu0) / 1000).toFixed(1) + " s (adds, wipes, codes)"
        : "")
    );
  }

  async stop(): Promise<void> {
    await this.c?.close().catch(() => {});
    await this.dev?.stop();
  }
}

/**
 * Registers the vector suite of each build, fed by VectorJobs started at once (call at the file's top
 * level, after any describe that should run while the jobs work).
 */
export function registerVectors(builds: Build[], jobs: VectorJob[]): void {
  for (const job of jobs) {
    describe("real interpreter " + job.build.name + ": vectors", () => {
      beforeAll(async () => {
        await job.settled(); // the device work may take a minute on a loaded machine; the tests then only compare
      }, 300000);
      afterAll(async () => {
        if (job.codes) console.log("[real] " + job.summary());
        await job.stop();
      });
      runVectorSuite(job.impl());
    });
  }
  void builds;
}

/** Why the vector suite cannot run here (beyond missingReason), or null. */
export function vectorsMissing(): string | null {
  return missingReason() || (faketimeLibrary() ? null : "libfaketime is not installed (apt-get install faketime)");
}

/** A pending describe naming why the real-interpreter suite does not run. */
export function pending(what: string, why: string): void {
  describe.skip("real interpreter " + what + " (pending: " + why + ")", () => {
    it("runs on the Linux builds of ../shared/espruino or HWTOTP_ESPRUINO", () => {});
  });
}

export function registerDevice(build: Build): void {
  {
    describe("real interpreter " + build.name + ": flash, slots, restarts, bad frames, host CLI", () => {
      let dev: Interpreter;
      let c: LineClient | null = null;
      let flashJson: Record<string, any>;
      let flashStderr = "";
      const client = async (): Promise<LineClient> => {
        if (!c) c = await dev.ready();
        return c;
      };
      const disconnect = async () => {
        if (c) await c.close();
        c = null;
      };
      const req = async (op: string, a?: Record<string, unknown>) => (await client()).request(op, a, 30000);
      const ok = async (op: string, a?: Record<string, unknown>) => dataOf(await req(op, a));

      beforeAll(async () => {
        await ensureHostBuilt();
        dev = await Interpreter.start({ binary: build.binary });
        // `hwtotp flash` itself, over the TCP bridge (the espruino CLI opens no pty).
        const port = await dev.tcp();
        const r = await dev.withCrashRetry("hwtotp flash", async () => {
          const x = await runCli(["flash", "--port", port, "--board", "linux", "--json"], { env: privateEnv() });
          if (x.code !== 0) throw new Error("hwtotp flash exited " + x.code + ": " + x.stderr);
          return x;
        });
        flashStderr = r.stderr;
        flashJson = JSON.parse(r.stdout);
        await dev.bridgesClosed();
        if (dev.crashes.length)
          console.log(
            "[real] " + build.name + ": the interpreter exited during the upload and was started afresh: " + dev.crashes.join("; "),
          );
      }, 90000);
      afterAll(async () => {
        await disconnect();
        await dev?.stop();
      });

      it("hwtotp flash says it is a factory reset before it starts, and reports what it wrote", () => {
        const notice = flashStderr.indexOf("factory reset");
        expect(notice).toBeGreaterThanOrEqual(0);
        expect(notice).toBeLessThan(flashStderr.indexOf("Espruino Command-line Tool"));
        expect(flashJson.board).toMatch(/^LINUX/);
        expect(flashJson.fw).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version);
        expect(flashJson.files).toEqual(fs.existsSync(BOOT0) ? [".bootcde", ".boot0"] : [".bootcde"]);
      });

      it("puts the exact bundle first in the flash image, then the boot guard", () => {
        const files = dev.storageFiles().filter((f) => !f.erased);
        expect(files[0].name).toBe(".bootcde");
        expect(files[0].offset).toBe(0);
        expect(files[0].data).toBe(fs.readFileSync(FIRMWARE, "latin1"));
        if (fs.existsSync(BOOT0)) {
          expect(files[1].name).toBe(".boot0");
          expect(files[1].data).toBe(fs.readFileSync(BOOT0, "latin1"));
        }
      });

      it("refuses to flash over the running firmware, with the way out", async () => {
        const r = await runCli(["flash", "--port", await dev.tcp(), "--board", "linux"], { env: privateEnv() });
        await dev.bridgesClosed();
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/factory reset/);
        expect(r.stderr).toMatch(/hold the button/);
        expect((await ok("hello")).fw).toBe(flashJson.fw);
      }, 30000);

      it("adds, lists, codes, deletes and wipes slots; no reply carries a seed", async () => {
        const cl = await client();
        const specs = [
          { name: "s1", key: keyHex(1), alg: "SHA1", digits: 6, period: 30 },
          { name: "s256", key: keyHex(2, 32), alg: "SHA256", digits: 8, period: 60 },
          { name: "s512", key: keyHex(3, 64), alg: "SHA512", digits: 8, period: 30, serial: "204727" },
          { name: "touchy", key: keyHex(4), alg: "SHA1", digits: 6, period: 30, touch: true },
        ];
        for (const s of specs) {
          const d = await ok("add", s);
          expect(d.slot).toEqual({
            name: s.name,
            alg: s.alg,
            digits: s.digits,
            period: s.period,
            touch: !!s.touch,
            ...(s.serial ? { serial: s.serial } : {}),
          });
        }
        const list = await ok("list");
        expect(list.slots.map((x: { name: string }) => x.name)).toEqual(specs.map((s) => s.name));
        expect(list.max).toBe(32);
        for (const s of specs.slice(0, 3)) {
          const d = await ok("code", { name: s.name });
          expect(d.codes).toHaveLength(1);
          expect(d.codes[0].code).toBe(refCode(s.key, d.t, s.alg, s.digits, s.period));
          if (HAVE_OATHTOOL) expect(d.codes[0].code).toBe(oathCode(s.key, d.t, s.alg, s.digits, s.period));
        }
        const all = await ok("code");
        expect(all.codes.map((x: { name: string }) => x.name)).toEqual(specs.map((s) => s.name));
        for (const x of all.codes) {
          const s = specs.find((y) => y.name === x.name)!;
          expect(x.code).toBe(s.touch ? null : refCode(s.key, all.t, s.alg, s.digits, s.period));
        }
        // This build has no button: a touch slot's code cannot be confirmed.
        const t = await req("code", { name: "touchy" });
        expect(t.ok === false && t.e).toBe("E_TOUCH");
        expect((await req("add", specs[0])).ok === false && "E_EXISTS").toBe("E_EXISTS");
        const e1 = await req("delete", { name: "nope" });
        expect(!e1.ok && e1.e).toBe("E_NOSLOT");
        const e2 = await req("code", { name: "nope" });
        expect(!e2.ok && e2.e).toBe("E_NOSLOT");
        expect(await ok("delete", { name: "s256" })).toEqual({ name: "s256" });
        expect((await ok("list")).slots.map((x: { name: string }) => x.name)).toEqual(["s1", "s512", "touchy"]);
        expect((await ok("hello")).slots.used).toBe(3);
        expect(await ok("wipe", { confirm: "wipe" })).toEqual({ slots: 3 });
        expect((await ok("list")).slots).toEqual([]);
        expect((await ok("code")).codes).toEqual([]);
        const seeds = specs.map((s) => s.key);
        for (const l of cl.lines) for (const k of seeds) expect(l.line.toLowerCase()).not.toContain(k);
      }, 60000);

      it("holds 32 slots, refuses a 33rd, and keeps slots, codes and clock correction across restarts", async () => {
        const specs = Array.from({ length: 32 }, (_, i) => ({
          name: "slot-" + i,
          key: keyHex(100 + i, 10 + i),
          alg: ALGS[i % 3],
          digits: i % 2 ? 8 : 6,
          period: [30, 60, 15, 300][i % 4],
        }));
        const cl = await client();
        for (let i = 0; i < 32; i += 8)
          (await Promise.all(specs.slice(i, i + 8).map((s) => cl.request("add", s, 60000)))).forEach((r) => dataOf(r));
        const full = await req("add", { name: "one-too-many", key: keyHex(999) });
        expect(!full.ok && full.e).toBe("E_FULL");
        const check = async (label: string) => {
          const all = await ok("code");
          expect(
            all.codes.map((x: { name: string }) => x.name),
            label,
          ).toEqual(specs.map((s) => s.name));
          for (let i = 0; i < 32; i++) {
            const s = specs[i];
            expect(all.codes[i].code, label + " " + s.name).toBe(refCode(s.key, all.t, s.alg, s.digits, s.period));
            if (HAVE_OATHTOOL && i % 4 === 0)
              expect(all.codes[i].code, label + " oathtool " + s.name).toBe(oathCode(s.key, all.t, s.alg, s.digits, s.period));
          }
          const one = await ok("code", { name: specs[31].name });
          expect(one.codes[0].code).toBe(refCode(specs[31].key, one.t, specs[31].alg, specs[31].digits, specs[31].period));
          return all.t as number;
        };
        await check("before restart");
        // A small correction (not a jump): the clock offset is stored and must survive the power cycle.
        const host = Date.now() / 1000;
        const st = await ok("settime", { t: host + 20 });
        expect(st.jump).toBe(false);
        const before = (await ok("time")).t - Date.now() / 1000;
        expect(before).toBeGreaterThan(19);
        expect(before).toBeLessThan(21);
        for (let round = 0; round < 2; round++) {
          await disconnect();
          const pid = dev.pid;
          await dev.restart();
          expect(dev.pid).not.toBe(pid);
          const hello = await ok("hello");
          expect(hello.slots.used).toBe(32);
          if (round === 0)
            console.log(
              "[real] " + build.name + ": heap after boot with 32 slots " + hello.heap.usage + " of " + hello.heap.total + " variables",
            );
          const off = (await ok("time")).t - Date.now() / 1000;
          expect(off, "clock correction after restart " + round).toBeGreaterThan(19);
          expect(off).toBeLessThan(21);
          await check("after restart " + round);
        }
        expect(await ok("wipe", { confirm: "wipe" })).toEqual({ slots: 32 });
        await disconnect();
        await dev.restart();
        expect((await ok("hello")).slots.used).toBe(0);
      }, 120000);

      it("answers every bad line with exactly one reply and loses no slot", async () => {
        const cl = await client();
        await ok("add", { name: "keep", key: keyHex(7) });
        const listBefore = await ok("list");
        const id = () => cl.id();
        const ctl = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i))
          .filter((ch) => ch !== "\x04" && ch !== "\n" && ch !== "\r")
          .join("");
        const lines: string[] = [
          "garbage",
          "}{",
          "[1,2,3]",
          "null",
          '"string"',
          "12345",
          '{"v":1,"id":' + id() + ',"op":"hello"}', // no "a": fine
          '{"v":1,"id":"x","op":"hello","a":{}}',
          '{"v":1,"id":-1,"op":"hello","a":{}}',
          '{"v":1,"id":1.5,"op":"hello","a":{}}',
          '{"v":2,"id":' + id() + ',"op":"hello","a":{}}',
          '{"v":1,"id":' + id() + ',"op":7,"a":{}}',
          '{"v":1,"id":' + id() + ',"op":"selfdestruct","a":{}}',
          '{"v":1,"id":' + id() + ',"op":"hello","a":[]}',
          '{"v":1,"id":' + id() + ',"op":"hello","a":"x"}',
          '{"v":1,"id":' + id() + ',"op":"add","a":{"name":5,"key":"' + keyHex(8) + '"}}',
          '{"v":1,"id":' + id() + ',"op":"add","a":{"name":"k","key":"' + keyHex(8).toUpperCase() + '"}}',
          '{"v":1,"id":' + id() + ',"op":"add","a":{"name":"k","key":"abc"}}',
          '{"v":1,"id":' + id() + ',"op":"add","a":{"name":"k","key":"' + keyHex(8) + '","digits":7}}',
          '{"v":1,"id":' + id() + ',"op":"add","a":{"name":"k","key":"' + keyHex(8) + '","period":0}}',
          '{"v":1,"id":' + id() + ',"op":"add","a":{"name":"k","key":"' + keyHex(8) + '","alg":"MD5"}}',
          '{"v":1,"id":' + id() + ',"op":"add","a":{"name":"keep","key":"' + keyHex(8) + '","extra":1}}',
          '{"v":1,"id":' + id() + ',"op":"delete","a":{}}',
          '{"v":1,"id":' + id() + ',"op":"wipe","a":{"confirm":"yes"}}',
          '{"v":1,"id":' + id() + ',"op":"settime","a":{"t":"now"}}',
          '{"v":1,"id":' + id() + ',"op":"settime","a":{"t":1000}}',
          '{"v":1,"id":' + id() + ',"op":"code","a":{"name":"' + "n".repeat(40) + '"}}',
          "x".repeat(MAX_REQUEST_LINE + 1),
          '{"v":1,"id":' + id() + ',"op":"hello","a":{"pad":"' + "p".repeat(MAX_REQUEST_LINE) + '"}}',
          "y".repeat(3 * MAX_REQUEST_LINE),
          ctl + "\x7f\x80\xff",
          "\u00e9\u00e8\u4e2d\u6587",
          '{"v":1,"id":' + id() + ',"op":"hello","a":{}}\r', // CRLF is fine
        ];
        const text = lines.join("\n") + "\n";
        const n0 = cl.lines.filter((l) => l.reply).length;
        const noise0 = cl.noise.length; // the boot leaves "-> LoopbackA" (the console moving away) on the port
        // Sent in odd-sized pieces, so frames and the oversize lines arrive split.
        for (let i = 0; i < text.length;) {
          const n = 1 + ((i * 7919) % 97);
          await cl.raw(text.slice(i, i + n));
          i += n;
        }
        // Every bad line's reply before the next request: the host's Session takes a reply it cannot match
        // (id null) for a refusal of its oldest request.
        await cl.waitReplies(n0 + lines.length, 60000);
        const last = await cl.request("hello", {}, 30000);
        expect(last.ok).toBe(true);
        const got = cl.lines.filter((l) => l.reply).slice(n0);
        expect(got.length, "one reply per line: " + got.map((g) => g.line.slice(0, 60)).join(" | ")).toBe(lines.length + 1);
        const codes = got.slice(0, -1).map((g) => (g.reply!.ok ? "ok" : (g.reply as { e: string }).e));
        expect(
          codes.filter((x) => x === "ok"),
          codes.join(" "),
        ).toHaveLength(2); // the frame without "a" and the CRLF one
        expect(codes.slice(0, 6)).toEqual(Array(6).fill("E_FRAME"));
        expect(codes).toContain("E_OP");
        expect(codes).toContain("E_VERSION");
        expect(codes).toContain("E_ARG");
        expect(cl.noise.slice(noise0), "lines that are not replies").toEqual([]);
        expect(await ok("list")).toEqual(listBefore);
        const d = await ok("code", { name: "keep" });
        expect(d.codes[0].code).toBe(refCode(keyHex(7), d.t));
        await ok("wipe", { confirm: "wipe" });
      }, 60000);

      it("serves the host CLI on its pty: info, add, list, code (= otpauth and oathtool), time, time sync, delete", async () => {
        await disconnect(); // the serial link is exclusive
        const env = privateEnv({ HWTOTP_DEVICE: dev.tty });
        const B32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        const hex = Buffer.from(OTPAuth.Secret.fromBase32(B32).bytes).toString("hex");
        const info = await runCli(["info", "--json"], { env });
        expect(info.code, info.stderr).toBe(0);
        const id = JSON.parse(info.stdout);
        expect(id.proto).toBe(1);
        expect(JSON.stringify(id)).toMatch(/LINUX/);
        const add = await runCli(["add", "cli", "--secret", "-", "--algorithm", "SHA256", "--digits", "8"], { env, input: B32 });
        expect(add.code, add.stderr).toBe(0);
        const list = await runCli(["list", "--json"], { env });
        expect(list.code, list.stderr).toBe(0);
        expect(list.stdout).toContain('"cli"');
        const code = await runCli(["code", "cli", "--json"], { env });
        expect(code.code, code.stderr).toBe(0);
        const d = JSON.parse(code.stdout);
        expect(d.codes[0].code).toBe(refCode(hex, d.t, "SHA256", 8));
        if (HAVE_OATHTOOL) expect(d.codes[0].code).toBe(oathCode(hex, d.t, "SHA256", 8));
        const time = await runCli(["time", "--json", "--exchanges", "3"], { env });
        expect(time.code, time.stderr).toBe(0);
        const sync = await runCli(["time", "sync", "--json"], { env });
        expect(sync.code, sync.stderr).toBe(0);
        const after = await runCli(["time", "--json", "--exchanges", "3"], { env });
        expect(after.code, after.stderr).toBe(0);
        expect(Math.abs(JSON.parse(after.stdout).offset)).toBeLessThan(1);
        const del = await runCli(["delete", "cli", "--force"], { env });
        expect(del.code, del.stderr).toBe(0);
        const empty = await runCli(["list", "--json"], { env });
        expect(empty.stdout).not.toContain('"cli"');
        for (const r of [info, add, list, code, time, sync, after, del]) {
          expect(r.stdout + r.stderr).not.toContain(hex);
          expect(r.stdout + r.stderr).not.toContain(B32);
        }
      }, 90000);
    });
  }
}
