// The real Espruino interpreter (../shared/espruino/espruino-linux*, or HWTOTP_ESPRUINO) in npm test, on each
// Linux build: `hwtotp flash`, the flash image, slots, 32 slots, restarts, bad frames and the host CLI
// (suites.ts registerDevice), and the vector suite (VectorJob: started here at once, so that the builds'
// interpreters compute their ~1,050 codes each in the background while the device tests run). Pending, with
// the reason, without the interpreter or socat; the vectors also need libfaketime (.ci/run installs it).
import { afterAll, beforeAll } from "vitest";
import { espruinoBuilds, missingReason } from "../harness/real-interpreter.ts";
import { pending, registerDevice, registerVectors, vectorsMissing, VectorJob } from "../harness/real-suites.ts";

const why = missingReason();
const builds = why ? [] : espruinoBuilds();
if (why) pending("suite", why);

const vwhy = vectorsMissing();
const jobs = vwhy ? [] : builds.map((b) => new VectorJob(b));
beforeAll(() => {
  for (const j of jobs) j.start(); // not awaited: the vector describes wait for their job
});
afterAll(async () => {
  for (const j of jobs) await j.stop();
});

for (const b of builds) registerDevice(b);
if (vwhy && !why) pending("vectors", vwhy);
else registerVectors(builds, jobs);
