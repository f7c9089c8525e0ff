// `npm run demo`: the whole flow on an in-process emulator — no hardware, no network. Every step uses the
// same code paths as the real commands (session, secret, qr, exec); only the link is in-process.
import { PROTOCOL_VERSION } from "../../protocol/index.ts";
import { MemoryLink } from "./link/memory.ts";
import { Session } from "./session.ts";
import { buildUri, encodeBase32, generateKey, toHex } from "./secret.ts";
import { freshCode, runChild } from "./exec.ts";

export interface DemoOptions {
  board: string;
  qr: boolean;
  /** Story on stderr, a summary document on stdout. */
  json?: boolean;
}

let story: NodeJS.WriteStream = process.stdout;
const out = (s = "") => story.write(s + "\n");
const step = (n: number, title: string) => out("\n" + n + ". " + title);
const say = (s: string) => out("   " + s);
const ok = (s: string) => out("   \u2713 " + s);

// The child command of step 6: it reports what it found in its environment and on its argv.
const CHILD = [
  "const c = process.env.OS_PASSCODE || '';",
  "const onArgv = process.argv.some((a) => c && a.includes(c));",
  "console.log('   child: OS_PASSCODE=' + c + ' is in my environment; my argv (' + process.argv.length + ' entr' + " +
    "(process.argv.length === 1 ? 'y' : 'ies') + ') ' + (onArgv ? 'HOLDS IT.' : 'does not hold it.'));",
  "process.exit(/^[0-9]{6}$/.test(c) && !onArgv ? 0 : 1);",
].join("\n");

export async function runDemo(opts: DemoOptions): Promise<number> {
  const { createEmulator } = await import("../../firmware/emulator/index.ts");
  const OTPAuth = await import("otpauth");
  story = opts.json ? process.stderr : process.stdout;
  const summary: { [k: string]: unknown } = { ok: false };

  out("hwtotp demo: a TOTP hardware token, end to end, on an emulated Espruino board.");
  out("No hardware and no network: the board runs inside this process.");

  step(1, "Power up the token");
  say("The emulator runs firmware/dist/firmware.js, the very file `hwtotp flash` puts on a real board,");
  say("on a virtual " + opts.board + " whose real-time clock starts at this computer's time.");
  const emu = createEmulator({ board: opts.board, clock: Date.now() / 1000 });
  await emu.start();
  const link = new MemoryLink(emu, "emulated " + opts.board);
  const session = await Session.connect(link);
  const key = generateKey(20);
  try {
    const h = session.info!;
    summary.device = { fw: h.fw, proto: h.proto, board: h.board, algs: h.algs, slots: h.slots, heap: h.heap };
    ok(
      "hwtotp firmware " +
        h.fw +
        " (protocol " +
        PROTOCOL_VERSION +
        ") on " +
        h.board +
        ": " +
        h.slots.used +
        " of " +
        h.slots.max +
        " slots used, hashes " +
        h.algs.join("/") +
        ", " +
        h.heap.free +
        " of " +
        h.heap.total +
        " variables free.",
    );

    step(2, "Enrol a Keystone-style credential");
    say("Keystone's TOTP method wants a 20-byte seed, base32 upper case, stored as a `totp` credential:");
    say('  POST /v3/credentials {"credential": {"type": "totp", "user_id": "…", "blob": "<the seed>"}}');
    say("This host draws the seed from its CSPRNG and writes it into a slot on the token. The token never");
    say("gives a seed back: no command can read it out. (`hwtotp keystone enroll` also registers it with a");
    say("real Keystone and checks a login.)");
    const added = await session.add({ name: "keystone", key: toHex(key), alg: "SHA1", digits: 6, period: 30 });
    summary.slot = added.slot;
    ok(
      'slot "' +
        added.slot.name +
        '": ' +
        added.slot.alg +
        ", " +
        added.slot.digits +
        " digits, every " +
        added.slot.period +
        " s; seed " +
        encodeBase32(key).length +
        " base32 characters.",
    );

    step(3, "Keep a backup in a phone app");
    say("`hwtotp add --generate --qr` shows the seed once, as a QR code for an authenticator app:");
    const uri = buildUri({ key, name: "keystone", issuer: "hwtotp", alg: "SHA1", digits: 6, period: 30 });
    if (opts.qr) {
      const { renderTerminalQr } = await import("./qr.ts");
      out((await renderTerminalQr(uri)).replace(/^/gm, "   ").trimEnd());
    } else say("(QR skipped: --no-qr)");

    step(4, "Read a code from the token");
    say("The token computes the code itself, at its own clock; the host only asks (`hwtotp code keystone`).");
    const got = await session.code("keystone");
    const c = got.codes[0];
    ok(c.code + ", " + Math.round(c.left) + " s left in step " + c.step + ".");

    step(5, "Check it with an independent implementation");
    const otp = new OTPAuth.TOTP({ secret: new OTPAuth.Secret({ buffer: Uint8Array.from(key).buffer }), digits: 6, period: 30 });
    const expected = otp.generate({ timestamp: got.t * 1000 });
    if (expected !== c.code) {
      out("   \u2717 otpauth computes " + expected + " for the same time: the token is wrong.");
      return 1;
    }
    summary.code = { code: c.code, step: c.step, left: c.left, t: got.t, otpauth: expected, agree: true };
    ok("otpauth (RFC 6238) computes " + expected + " from the same seed at the token's time: they agree.");

    step(6, "Hand it to a command without putting it on a command line");
    say("`hwtotp exec -- CMD` runs CMD with the code in $OS_PASSCODE, which the openstack CLI reads for");
    say("--os-passcode; argv would show it to every user in `ps` and keep it in shell history.");
    say("$ hwtotp exec --name keystone -- node -e '<print what I received>'");
    const fresh = await freshCode(session, {
      name: "keystone",
      onWait: (left) => say("(only " + left.toFixed(0) + " s left in this step: waiting for the next code)"),
    });
    const code = await runChild(process.execPath, ["-e", CHILD], { OS_PASSCODE: fresh.code! }, opts.json ? ["inherit", 2, 2] : "inherit");
    summary.exec = { exit: code, passcode: fresh.code };
    if (code !== 0) {
      out("   \u2717 the child exited " + code + ".");
      return 1;
    }
    ok("the child received the token's code " + fresh.code + " and exited 0.");

    out("\nThat is the whole loop. On a real board: `hwtotp flash`, then `hwtotp add NAME --generate --qr`,");
    out("`hwtotp exec --name NAME -- openstack …`; `hwtotp daemon` keeps the board for every shell. See README.md.");
    summary.ok = true;
    return 0;
  } finally {
    if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    key.fill(0);
    await session.close();
    await emu.stop();
  }
}
