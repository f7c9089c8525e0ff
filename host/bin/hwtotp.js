#!/usr/bin/env node
// The hwtotp command: the bundle built by host/build.mjs (npm run build).
// `hwtotp --version` alone is answered here, without loading the bundle (what commander would print).
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const { readFileSync } = await import("node:fs");
  process.stdout.write(JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version + "\n");
} else {
  const { main } = await import("../dist/hwtotp.mjs");
  process.exitCode = await main(process.argv);
}
