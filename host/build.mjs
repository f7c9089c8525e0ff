// Bundles the host CLI (host/src/cli/main.ts) into host/dist/hwtotp.mjs with esbuild: ESM for Node 20,
// npm packages but commander left external (loaded from node_modules, lazily where the code says so), code split so
// commands' heavy parts are separate chunks loaded only when used.
import { build } from "esbuild";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "dist");

// commander is bundled in (ESM compiles lazily; its CommonJS files cost ~10 ms of CPU at every start);
// every other package stays external and most load lazily.
const pkg = JSON.parse(readFileSync(path.join(here, "../package.json"), "utf8"));
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})].filter((d) => d !== "commander");

export async function buildHost({ quiet = false } = {}) {
  // No wiping first: others may be running the CLI from host/dist while this builds. Stale chunks go after.
  const t0 = Date.now();
  const r = await build({
    entryPoints: { hwtotp: path.join(here, "src/cli/main.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external,
    banner: { js: 'import { createRequire as __hwtotpRequire } from "node:module"; const require = __hwtotpRequire(import.meta.url);' },
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
  });
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
