#!/usr/bin/env node
// The hwtotp command: the bundle built by host/build.mjs (npm run build).
import { main } from "../dist/hwtotp.mjs";

process.exitCode = await main(process.argv);
