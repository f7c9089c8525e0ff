// docs/espruino-facts.md is the listing firmware/build/facts-doc.mjs makes of the facts table: it fails here when
// the table changed and the doc was not regenerated (node firmware/build/facts-doc.mjs).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain .mjs build script without types
import { DOC_PATH, factsDoc } from "../../firmware/build/facts-doc.mjs";
import { BOARDS, GLOBALS, MISSING_GLOBALS } from "../../firmware/espruino-facts.mjs";

const root = path.resolve(import.meta.dirname, "../..");

describe("docs/espruino-facts.md", () => {
  it("is up to date with firmware/espruino-facts.mjs", () => {
    const have = fs.readFileSync(path.join(root, DOC_PATH), "utf8");
    expect(have, "run node firmware/build/facts-doc.mjs").toBe(factsDoc());
  });

  it("lists every allowed global, every missing built-in and every board", () => {
    const doc = factsDoc() as string;
    for (const g of GLOBALS) expect(doc).toContain("`" + g + "`");
    for (const g of MISSING_GLOBALS) expect(doc).toContain("`" + g + "`");
    for (const b of Object.values(BOARDS)) expect(doc).toContain("| `" + b.name + "` | `" + b.envBoard + "` |");
  });
});
