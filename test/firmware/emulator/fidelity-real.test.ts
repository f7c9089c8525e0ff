// The fidelity table (fidelity-table.ts) on the real interpreter: every row's program runs at the REPL of each Linux
// build of Espruino 2v29 (../shared/espruino, or HWTOTP_ESPRUINO), and must give the row's `device` value there too.
// So the table, which fidelity.test.ts holds the emulator to, stays a statement about the real interpreter.
// Pending (with the reason) when the builds are absent.
import { afterAll, describe, expect, it } from "vitest";
import { Interpreter, espruinoBuilds, missingReason, stopAll } from "../../harness/real-interpreter.ts";
import { table } from "../../harness/fidelity-table.ts";

const missing = missingReason({ pipes: true });
afterAll(() => stopAll());

/** The same classification as fidelity.test.ts's, done on the device (undefined travels as "__undef"). */
const FID =
  "function __fid(src) { try { var v = eval(src); return { v: v === undefined ? '__undef' : v }; } catch (e) {" +
  " return { e: { threw: e instanceof SyntaxError ? 'SyntaxError' : e instanceof ReferenceError ? 'ReferenceError' : e " +
  "instanceof TypeError ? 'TypeError'" +
  " : (typeof InternalError !== 'undefined' && e instanceof InternalError) ? 'InternalError' : e instanceof Error ? 'Error' : typeof e," +
  " name: e && e.name !== undefined ? e.name : '__undef' } }; } }";

function decode(x: any): unknown {
  if (x === "__undef") return undefined;
  if (x && typeof x === "object" && "e" in x) return { threw: x.e.threw, name: decode(x.e.name) };
  return x.v === "__undef" ? undefined : x.v;
}

for (const build of espruinoBuilds()) {
  describe("fidelity table on the real " + build.name, () => {
    let r: Interpreter | null = null;
    const device = async (): Promise<Interpreter> => {
      if (!r) {
        r = await Interpreter.start({ binary: build.binary, pipes: true });
        await r.run(FID);
      }
      return r;
    };
    afterAll(async () => {
      if (r) await r.stop();
    });
    for (const row of table) {
      it.skipIf(!!row.notOnLinux)(row.trap + (row.notOnLinux ? " (not on Linux: " + row.notOnLinux + ")" : ""), async () => {
        const d = await device();
        const got = decode(await d.eval("__fid(" + JSON.stringify(row.program) + ")"));
        expect(got).toEqual(row.device);
      });
    }
  });
}

describe.skipIf(!missing)("fidelity table on the real interpreter", () => {
  it.skip("pending: " + missing, () => {});
});
