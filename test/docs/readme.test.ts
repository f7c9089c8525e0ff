// The README and docs/ hold together: the README stays short (issue 14: at most 120 lines), every relative link in
// README.md and docs/**/*.md names a file of the repository (anchors are not checked), and the exit-code table of
// docs/cli.md is host/src/errors.ts's EXIT, entry by entry, with the same numbers.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../host/src/errors.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

function markdownFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith(".md") ? [join(dir, e.name)] : [],
  );
}

/** Link targets of a markdown text, fenced code blocks and code spans (a run of n backticks to the next) left out. */
function linkTargets(text: string): string[] {
  const prose = text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/(`+)[\s\S]*?(?<!`)\1(?!`)/g, "");
  const inline = [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
  const refs = [...prose.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]);
  return [...inline, ...refs];
}

/** The relative file a link names (its anchor dropped), or null for an anchor alone or a link with a scheme. */
function relativeFile(target: string): string | null {
  if (target.startsWith("#") || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) return null;
  return decodeURIComponent(target.replace(/[#?].*$/, ""));
}

describe("linkTargets", () => {
  it("finds inline and reference links, and none inside code", () => {
    const text = [
      'See [cli](docs/cli.md#exit-codes) and [a title](x.md "t"), [web](https://example.org), [here](#top).',
      "`[not](inline.md)` and ``a ` [not](double.md)``",
      "```",
      "[not](fenced.md)",
      "```",
      "[ref]: facts/ceph.md",
    ].join("\n");
    const targets = ["docs/cli.md#exit-codes", "x.md", "https://example.org", "#top", "facts/ceph.md"];
    expect(linkTargets(text)).toEqual(targets);
    expect(linkTargets(text).map(relativeFile)).toEqual(["docs/cli.md", "x.md", null, null, "facts/ceph.md"]);
  });
});

describe("README.md", () => {
  it("is at most 120 lines", () => {
    const text = read("README.md");
    const lines = text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length;
    expect(lines).toBeLessThanOrEqual(120);
  });

  it("links to the docs of every topic", () => {
    const files = linkTargets(read("README.md")).map(relativeFile);
    for (const doc of ["cli", "daemon", "clock", "keystone", "ceph", "security", "firmware", "development"]) {
      expect(files).toContain("docs/" + doc + ".md");
    }
  });
});

describe("links in README.md and docs/", () => {
  const pointers = ["firmware/emulator/README.md"].filter((f) => existsSync(join(ROOT, f)));
  const files = ["README.md", ...pointers, ...markdownFiles("docs")];
  it.each(files)("every relative link in %s names a file that exists", (file) => {
    const missing = linkTargets(read(file))
      .map(relativeFile)
      .filter((f): f is string => f !== null)
      .filter((f) => !existsSync(resolve(ROOT, dirname(file), f)))
      .map((f) => relative(ROOT, resolve(ROOT, dirname(file), f)));
    expect(missing).toEqual([]);
  });
});

describe("docs/cli.md exit codes", () => {
  it("lists every entry of EXIT with its number, and nothing else", () => {
    const table = read("docs/cli.md").matchAll(/^\|\s*(\d+)\s*\|\s*`([A-Z_]+)`\s*\|/gm);
    const rows = [...table].map((m) => [m[2], Number(m[1])]);
    expect(Object.fromEntries(rows)).toEqual({ ...EXIT });
    expect(rows.length).toBe(Object.keys(EXIT).length);
  });
});
