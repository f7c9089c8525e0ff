// `npm run build:firmware`: the Espruino build pipeline (docs/facts/espruino.md, "Toolchain facts").
// tsc type-check → esbuild bundle (IIFE) → Babel preset-env "ie 11" loose → gate → terser (ES5) → gate again
// → firmware/dist/firmware.js (the exact file that is flashed as .bootcde and that the emulator runs), and the
// boot guard firmware/dist/boot0.js (flashed as .boot0) through the same steps. The host bundle has its own
// script (host/build.mjs); `npm run build` runs both.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { transformSync } from "@babel/core";
import { minify } from "terser";
import { gate, formatFindings } from "./gate.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const fwDir = join(root, "firmware");
const distDir = join(fwDir, "dist");
const OUT = join(distDir, "firmware.js");
const DEBUG_OUT = join(distDir, "firmware.es5.js");
/** The boot guard, flashed as .boot0 (firmware/src/guard.ts). */
const GUARD_OUT = join(distDir, "boot0.js");
const SIZE_GOAL = 16 * 1024;

function fail(msg) {
  process.stderr.write("build: " + msg + "\n");
  process.exit(1);
}

function step(name) {
  process.stderr.write("build: " + name + "\n");
}

/** Babel settings that produced correct ES5 for the real interpreter (facts page). Exported for the gate tests. */
export const BABEL_OPTIONS = {
  babelrc: false,
  configFile: false,
  sourceType: "script",
  comments: false,
  compact: false,
  presets: [
    [
      "@babel/preset-env",
      {
        targets: "ie 11",
        loose: true,
        modules: false,
        exclude: ["transform-regenerator", "transform-typeof-symbol"],
      },
    ],
  ],
};

/** Terser settings: ES5 out, nothing that relies on hoisting or on features Espruino lacks. */
export const TERSER_OPTIONS = {
  ecma: 5,
  compress: {
    ecma: 5,
    passes: 2,
    hoist_funs: false,
    // every var of a function declared once at its top: Espruino does not hoist, so declaring first is the
    // order it needs anyway (the gate's use-before-define rule still reads the output); saves ~250 bytes
    hoist_vars: true,
    // no single-use function inlining: terser would turn hot helpers into IIFEs, i.e. a fresh function
    // object on every call, which costs Espruino variables per code
    // level 1 only replaces calls of argument-less one-expression functions by that expression, no IIFEs
    inline: 1,
    reduce_funcs: false,
    unsafe: false,
    keep_fargs: true,
    pure_getters: false,
  },
  mangle: { toplevel: false },
  format: { ecma: 5, ascii_only: true, comments: false, semicolons: true },
};

const REQUIRE_SHIM = /var __require = \/\* @__PURE__ \*\/ \(\(x\) => typeof require[\s\S]*?\n {2}\}\);\n/;

/** ES2015+ TypeScript → ES5 source, without type-checking (tests use this on small inputs). */
export async function lowerToEs5(entry) {
  const bundled = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: "iife",
    platform: "neutral",
    target: "es2020",
    charset: "ascii",
    legalComments: "none",
    write: false,
    logLevel: "silent",
    treeShaking: true,
    external: ["Storage", "Flash", "crypto"],
  });
  // esbuild keeps require("Storage") / require("Flash") / require("crypto") behind a shim that needs Proxy; Espruino's own
  // require is a plain global function, so the shim is replaced by it (the gate fails if this ever misses).
  // esbuild adds "use strict" (tsconfig strict): Espruino ignores it and the emulator must not run stricter
  // than the device, so it goes (13 bytes too).
  const code = bundled.outputFiles[0].text.replace(REQUIRE_SHIM, "var __require = require;\n").replace(/^"use strict";\n/, "");
  return transformSync(code, BABEL_OPTIONS).code;
}

/** @returns {Promise<string>} */
export async function minifyEs5(code) {
  const out = await minify(code, /** @type {import("terser").MinifyOptions} */ (TERSER_OPTIONS));
  return /** @type {string} */ (out.code);
}

function runGate(code, file) {
  const findings = gate(code, file);
  if (findings.length > 0) {
    process.stderr.write(formatFindings(findings, file) + "\n");
    fail("the Espruino gate failed: " + findings.length + " finding(s) in " + file);
  }
}

async function main() {
  step("type-check (firmware/tsconfig.json)");
  const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(fwDir, "tsconfig.json"), "--noEmit"], {
    cwd: root,
    stdio: "inherit",
  });
  if (tsc.status !== 0) fail("type-check failed");

  step("bundle (esbuild) and lower to ES5 (Babel)");
  let es5;
  try {
    es5 = await lowerToEs5(join(fwDir, "src/main.ts"));
  } catch (err) {
    fail("bundling failed: " + (err instanceof Error ? err.message : String(err)));
  }
  mkdirSync(distDir, { recursive: true });
  writeFileSync(DEBUG_OUT, es5);
  step("gate on " + relative(root, DEBUG_OUT));
  runGate(es5, relative(root, DEBUG_OUT));

  step("minify (terser, ES5)");
  const min = await minifyEs5(es5);
  step("gate on " + relative(root, OUT));
  runGate(min, relative(root, OUT));
  writeFileSync(OUT, min);
  const size = Buffer.byteLength(min);
  process.stdout.write(
    "firmware/dist/firmware.js: " +
      size +
      " bytes (" +
      (size / 1024).toFixed(1) +
      " KB; goal <= " +
      SIZE_GOAL / 1024 +
      " KB" +
      (size > SIZE_GOAL ? ", OVER GOAL" : "") +
      "); unminified ES5 " +
      Buffer.byteLength(es5) +
      " bytes\n",
  );

  step("boot guard: bundle, gate, minify, gate (" + relative(root, GUARD_OUT) + ")");
  const guardEs5 = await lowerToEs5(join(fwDir, "src/guard.ts"));
  runGate(guardEs5, "firmware/src/guard.ts (ES5)");
  const guardMin = await minifyEs5(guardEs5);
  runGate(guardMin, relative(root, GUARD_OUT));
  writeFileSync(GUARD_OUT, guardMin);
  process.stdout.write(relative(root, GUARD_OUT) + ": " + Buffer.byteLength(guardMin) + " bytes\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
}
