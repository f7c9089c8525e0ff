// Bundles the host CLI (host/src/cli/main.ts) into host/dist/hwtotp.mjs with esbuild: ESM for Node 20,
// npm packages but commander left external (loaded from node_modules, lazily where the code says so), code split so
// commands' heavy parts are separate chunks loaded only when used.
// One manual chunk, "core": every module `exec` and `code` need (CORE_ROOTS and what they import statically)
// goes into one file instead of the ~10 chunks esbuild's splitting would make of them (each ES module costs
// Node 20 about a millisecond to load). Modules outside the core import core modules through shims that
// re-export from it, so each module still exists once (one class per error, one state per module).
import { build } from "esbuild";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "dist");

// commander is bundled in (ESM compiles lazily; its CommonJS files cost ~10 ms of CPU at every start);
// every other package stays external and most load lazily.
const pkg = JSON.parse(readFileSync(path.join(here, "../package.json"), "utf8"));
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})].filter((d) => d !== "commander");

const CORE_ROOTS = ["src/cli/context.ts", "src/exec.ts", "src/cli/commands/exec.ts", "src/cli/commands/code.ts"].map((f) =>
  path.join(here, f),
);
/** @type {import("esbuild").BuildOptions} */
const common = { bundle: true, format: "esm", platform: "node", target: "node20", external, logLevel: "warning" };

/** The core's files (absolute paths) and each one's runtime export names. */
async function coreModules() {
  const probe = await build({
    ...common,
    entryPoints: CORE_ROOTS,
    outdir: path.join(here, "dist-probe"),
    write: false,
    splitting: true,
    metafile: true,
  });
  const inputs = /** @type {import("esbuild").Metafile} */ (probe.metafile).inputs;
  const abs = (f) => path.resolve(f);
  const byAbs = new Map(Object.keys(inputs).map((f) => [abs(f), f]));
  const core = new Set();
  const visit = (file) => {
    if (core.has(file) || /node_modules|\.json$/.test(file)) return;
    core.add(file);
    for (const i of inputs[/** @type {string} */ (byAbs.get(file))].imports)
      if (i.kind === "import-statement" && !i.external) visit(abs(i.path));
  };
  CORE_ROOTS.forEach(visit);
  const files = [...core];
  // Bundled, so that names an `export * from` brings in are listed too.
  const ex = await build({
    ...common,
    entryPoints: files,
    outdir: path.join(here, "dist-probe"),
    outbase: path.join(here, ".."),
    write: false,
    splitting: true,
    metafile: true,
  });
  const exports = new Map();
  for (const o of Object.values(/** @type {import("esbuild").Metafile} */ (ex.metafile).outputs))
    if (o.entryPoint) exports.set(abs(o.entryPoint), o.exports);
  return new Map(files.map((f) => [f, exports.get(f) ?? []]));
}

/** The esbuild plugin making the core one chunk (see the top of this file). */
function coreChunk(core) {
  const files = [...core.keys()];
  const id = new Map(files.map((f, i) => [f, "m" + i + "$"]));
  return {
    name: "hwtotp-core",
    setup(b) {
      b.onResolve({ filter: /^hwtotp-core$/ }, () => ({ path: "core", namespace: "hwtotp-core" }));
      b.onResolve({ filter: /^\./ }, async (args) => {
        if (args.pluginData === "core" || args.namespace !== "file") return undefined;
        // A core module imports another directly; a dynamic import goes through a shim (a target of a
        // dynamic import is an entry of its own for esbuild and would take the module out of the core chunk).
        if (core.has(args.importer) && args.kind !== "dynamic-import") return undefined;
        const r = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: "core" });
        if (r.errors.length || !core.has(r.path)) return undefined;
        return { path: r.path, namespace: "hwtotp-core-shim", sideEffects: false };
      });
      b.onLoad({ filter: /.*/, namespace: "hwtotp-core" }, () => ({
        contents: files
          .map(
            (f) =>
              "export { " +
              core
                .get(f)
                .map((n) => n + " as " + id.get(f) + n)
                .join(", ") +
              " } from " +
              JSON.stringify(f) +
              ";",
          )
          .join("\n"),
        resolveDir: here,
        loader: "js",
      }));
      b.onLoad({ filter: /.*/, namespace: "hwtotp-core-shim" }, (args) => ({
        contents:
          "export { " +
          core
            .get(args.path)
            .map((n) => id.get(args.path) + n + " as " + n)
            .join(", ") +
          ' } from "hwtotp-core";',
        resolveDir: here,
        loader: "js",
      }));
    },
  };
}

const BANNER = 'import { createRequire as __hwtotpRequire } from "node:module"; const require = __hwtotpRequire(import.meta.url);';

/**
 * Writes the outputs (each through a temporary file and a rename, so a CLI starting meanwhile reads a whole
 * file). esbuild leaves chunks with no code (the core's shims) imported for their side effects, which they
 * have none of: those import lines are blanked (the line stays, so the source maps still match).
 */
function writeOutputs(files) {
  const isEmpty = (f) => f.text.split("\n").every((l) => l === "" || l === BANNER || l.startsWith("//# sourceMappingURL="));
  const empty = new Set(files.filter((f) => f.path.endsWith(".mjs") && isEmpty(f)).map((f) => path.basename(f.path)));
  for (const f of files) {
    let text = f.text;
    if (f.path.endsWith(".mjs"))
      text = text.replace(/^import "\.\/(?:chunks\/)?([^"/]+\.mjs)";$/gm, (line, name) => (empty.has(name) ? "" : line));
    mkdirSync(path.dirname(f.path), { recursive: true });
    const tmp = f.path + ".tmp-" + process.pid;
    writeFileSync(tmp, text);
    renameSync(tmp, f.path);
  }
}

export async function buildHost({ quiet = false } = {}) {
  // No wiping first: others may be running the CLI from host/dist while this builds. Stale chunks go after.
  const t0 = Date.now();
  const core = await coreModules();
  const r = await build({
    plugins: [coreChunk(core)],
    entryPoints: { hwtotp: path.join(here, "src/cli/main.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external,
    banner: { js: BANNER },
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: "linked",
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  writeOutputs(r.outputFiles);
  const keep = new Set(Object.keys(r.metafile.outputs).map((f) => path.resolve(f)));
  const chunks = path.join(outdir, "chunks");
  for (const f of readdirSync(chunks)) {
    if (!keep.has(path.join(chunks, f))) rmSync(path.join(chunks, f), { force: true });
  }
  if (!quiet) {
    const bytes = Object.entries(r.metafile.outputs)
      .filter(([f]) => f.endsWith(".mjs"))
      .reduce((n, [, o]) => n + o.bytes, 0);
    console.log("host: host/dist/hwtotp.mjs (" + Math.round(bytes / 1024) + " KB in all) in " + (Date.now() - t0) + " ms");
  }
  return r;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildHost();
}
