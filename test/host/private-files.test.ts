// Every private file the host writes (token cache and its lock, the MFA pin state and its lock, clouds.yaml,
// the QR PNG, the emulator's state file, the s3 merged input) against a symlink planted at its path: the
// link is replaced or refused, never written through; the file that lands is a regular 0600 file.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { createEmulator } from "../../firmware/emulator/index.ts";
import { emptyState, readState, withLock as withMfaLock, writeState } from "../../host/src/integrations/ceph/pin-dispenser.ts";
import { planS3 } from "../../host/src/integrations/ceph/s3-mfa.ts";
import { writeMfaCloud } from "../../host/src/integrations/keystone/clouds.ts";
import { getToken } from "../../host/src/integrations/keystone/token-cache.ts";
import { createPrivateFile, openPrivateAppend, withLockFile, writePrivateFile } from "../../host/src/private-file.ts";
import { preparePng } from "../../host/src/qr.ts";
import { mfaLoginScene } from "../harness/keystone-fake.ts";

const VICTIM_TEXT = "the victim's own content\n";

/** A folder with a victim file (0644, known content) and a path for a victim that must never be created. */
function scene() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hwtotp-link-"));
  const victim = path.join(dir, "victim.txt");
  fs.writeFileSync(victim, VICTIM_TEXT, { mode: 0o644 });
  const absent = path.join(dir, "must-not-exist");
  return {
    dir,
    victim,
    absent,
    /** The victims are as they were: the file unchanged (content and mode), the absent one still absent. */
    untouched() {
      expect(fs.readFileSync(victim, "utf8")).toBe(VICTIM_TEXT);
      expect(fs.statSync(victim).mode & 0o777).toBe(0o644);
      expect(fs.existsSync(absent)).toBe(false);
    },
  };
}

/** `file` is a regular file (not a link), mode 0600. */
function expectPrivateRegular(file: string): void {
  const st = fs.lstatSync(file);
  expect(st.isSymbolicLink()).toBe(false);
  expect(st.isFile()).toBe(true);
  expect(st.mode & 0o777).toBe(0o600);
}

/** The names the old writers used for their temporary files: `<file>.<pid>.tmp` and `<file>.tmp<pid>`. */
function plantOldTempNames(file: string, target: string): void {
  fs.symlinkSync(target, file + "." + process.pid + ".tmp");
  fs.symlinkSync(target, file + ".tmp" + process.pid);
}

describe("private files: a planted symlink is never followed", () => {
  it.each([
    ["to an existing file", "victim"],
    ["dangling, to a file it would create", "absent"],
  ] as const)("writePrivateFile replaces a symlink at the destination (%s) and ignores links at the old temp names", (_what, which) => {
    const s = scene();
    const file = path.join(s.dir, "private.json");
    fs.symlinkSync(s[which], file);
    plantOldTempNames(file, s.absent);
    writePrivateFile(file, '{"secret":1}\n');
    expectPrivateRegular(file);
    expect(fs.readFileSync(file, "utf8")).toBe('{"secret":1}\n');
    s.untouched();
    // no temporary file left behind
    expect(fs.readdirSync(s.dir).filter((n) => n.startsWith(".private.json."))).toEqual([]);
  });

  it("createPrivateFile refuses any existing name, a dangling symlink included (EEXIST), and makes 0600 whatever the umask", () => {
    const s = scene();
    const link = path.join(s.dir, "new");
    fs.symlinkSync(s.absent, link);
    expect(() => createPrivateFile(link)).toThrow(expect.objectContaining({ code: "EEXIST" }));
    s.untouched();
    const old = process.umask(0o077 | 0o100);
    try {
      const fd = createPrivateFile(path.join(s.dir, "fresh"));
      fs.closeSync(fd);
    } finally {
      process.umask(old);
    }
    expectPrivateRegular(path.join(s.dir, "fresh"));
  });

  it("openPrivateAppend refuses a symlink (ELOOP) and a file others may read", () => {
    const s = scene();
    const link = path.join(s.dir, "audit.log");
    fs.symlinkSync(s.victim, link);
    expect(() => openPrivateAppend(link)).toThrow(expect.objectContaining({ code: "ELOOP" }));
    expect(() => openPrivateAppend(s.victim)).toThrow(/others may read or write it/);
    s.untouched();
    const fd = openPrivateAppend(path.join(s.dir, "own.log"));
    fs.writeSync(fd, "line\n");
    fs.closeSync(fd);
    expectPrivateRegular(path.join(s.dir, "own.log"));
  });

  it("a lock file at a symlink: the link is broken, never written through, and the lock is taken", async () => {
    const s = scene();
    const lock = path.join(s.dir, "x.lock");
    fs.symlinkSync(s.victim, lock);
    let inside = false;
    await withLockFile(lock, { waitMs: 1000, staleMs: 60000, pollMs: 10, timeout: () => new Error("timeout") }, async () => {
      inside = true;
      expectPrivateRegular(lock);
      expect(fs.readFileSync(lock, "utf8")).toBe(String(process.pid));
    });
    expect(inside).toBe(true);
    expect(fs.existsSync(lock)).toBe(false);
    s.untouched();
  });

  it("the Keystone token cache and its lock", async () => {
    const s = scene();
    // the token: the firmware in the emulator, its clock frozen (Keystone's clock is the token's)
    const { token, ks, cloud, passcode, now } = await mfaLoginScene();
    onTestFinished(() => token.close());
    const file = path.join(s.dir, "tokens.json");
    fs.symlinkSync(s.absent, file);
    fs.symlinkSync(s.victim, file + ".lock");
    plantOldTempNames(file, s.victim + "2");
    const r = await getToken(cloud, { file, passcode, now, fetch: ks.fetch });
    expect(r.issued).toBe(true);
    expectPrivateRegular(file);
    expect(JSON.parse(fs.readFileSync(file, "utf8")).v).toBe(1);
    s.untouched();
    expect(fs.existsSync(s.victim + "2")).toBe(false);
    // a link planted at the cache once it exists: replaced at the next write, the victim never read as a cache
    fs.rmSync(file);
    fs.symlinkSync(s.victim, file);
    token.emu.control.advance(7200);
    expect((await getToken(cloud, { file, passcode, now, fetch: ks.fetch })).issued).toBe(true);
    expectPrivateRegular(file);
    s.untouched();
  });

  it("the MFA pin dispenser's state file and its lock", async () => {
    const s = scene();
    const st = { ...emptyState("hw-1"), lastStep: 42 };
    const file = path.join(s.dir, "serial-hw-1.json");
    fs.symlinkSync(s.victim, file);
    fs.symlinkSync(s.absent, file + ".lock");
    plantOldTempNames(file, s.absent);
    await withMfaLock(s.dir, "hw-1", async () => writeState(s.dir, st));
    expectPrivateRegular(file);
    expect(readState(s.dir, "hw-1").lastStep).toBe(42);
    expect(fs.existsSync(file + ".lock")).toBe(false);
    s.untouched();
  });

  it("clouds.yaml", () => {
    const s = scene();
    const file = path.join(s.dir, "clouds.yaml");
    fs.symlinkSync(s.absent, file);
    writeMfaCloud(file, "mfa", { authUrl: "https://keystone.example:5000/v3", username: "alice", password: "pw", projectName: "demo" });
    expectPrivateRegular(file);
    expect(fs.readFileSync(file, "utf8")).toContain("keystone.example");
    s.untouched();
    // a link to a readable file elsewhere: the link is replaced by a private file, the target keeps its mode
    const other = path.join(s.dir, "other-clouds.yaml");
    fs.writeFileSync(other, "clouds: {}\n", { mode: 0o644 });
    const file2 = path.join(s.dir, "clouds2.yaml");
    fs.symlinkSync(other, file2);
    const r = writeMfaCloud(file2, "mfa", { authUrl: "https://keystone.example:5000/v3", username: "alice", password: "pw" });
    expect(r.tightened).toBe(false);
    expectPrivateRegular(file2);
    expect(fs.readFileSync(other, "utf8")).toBe("clouds: {}\n");
    expect(fs.statSync(other).mode & 0o777).toBe(0o644);
  });

  it("the QR PNG", async () => {
    const s = scene();
    const file = path.join(s.dir, "qr.png");
    fs.symlinkSync(s.victim, file);
    const png = await preparePng(file, "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQ");
    png.commit();
    expectPrivateRegular(file);
    expect(fs.readFileSync(file).subarray(1, 4).toString()).toBe("PNG");
    s.untouched();
  });

  it("the emulator's state file: a symlink is refused at start and replaced, not followed, at a save", async () => {
    const s = scene();
    const file = path.join(s.dir, "state.json");
    fs.symlinkSync(s.absent, file);
    expect(() => createEmulator({ board: "pico", stateFile: file, flashed: false })).toThrow(/is a symlink; name the file itself/);
    s.untouched();
    fs.rmSync(file);
    const emu = createEmulator({ board: "pico", stateFile: file, flashed: false, clock: 1700000000 });
    await emu.start(); // a fresh board (flashed: false) writes nothing yet
    fs.symlinkSync(s.victim, file);
    plantOldTempNames(file, s.absent);
    await emu.stop(); // persists the flash
    expectPrivateRegular(file);
    expect(JSON.parse(fs.readFileSync(file, "utf8")).board).toBe("pico");
    s.untouched();
  });

  it("the s3 merged input: a private file in a fresh 0700 folder, the user's file read, never written", () => {
    const s = scene();
    const mine = path.join(s.dir, "mine.json");
    fs.writeFileSync(mine, JSON.stringify({ Bucket: "b", Key: "k" }), { mode: 0o644 });
    const link = path.join(s.dir, "input-link.json");
    fs.symlinkSync(mine, link);
    const p = planS3(["aws", "s3api", "delete-object", "--cli-input-json", "file://" + link], "hw-1 123456", { tmp: s.dir });
    const file = p.args[p.args.indexOf("--cli-input-json") + 1].slice("file://".length);
    expectPrivateRegular(file);
    const folder = fs.lstatSync(path.dirname(file));
    expect(folder.isDirectory() && (folder.mode & 0o777) === 0o700).toBe(true);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ Bucket: "b", Key: "k", MFA: "hw-1 123456" });
    expect(fs.readFileSync(mine, "utf8")).toBe(JSON.stringify({ Bucket: "b", Key: "k" }));
    p.cleanup();
    expect(fs.existsSync(path.dirname(file))).toBe(false);
    s.untouched();
  });
});
