// Watches every command line on this machine (/proc/*/cmdline), for the e2e checks that no secret or pin
// ever appears on an argv. The scan runs in a worker thread so that it never stalls the emulator, which
// answers on the test's own thread.
import { Worker } from "node:worker_threads";

export interface CmdlineWatch {
  /** Resolves once the worker runs (its first scan follows at once). */
  ready: Promise<void>;
  /** Stops the scan (after one last pass) and gives every distinct command line seen. */
  stop(): Promise<string[]>;
}

/** Every distinct command line seen from now until `stop()`, sampled every `everyMs`. */
export function watchCmdlines(everyMs = 25): CmdlineWatch {
  const w = new Worker(
    `const { readdirSync, readFileSync } = require("node:fs");
     const { parentPort, workerData } = require("node:worker_threads");
     const seen = new Set();
     const scan = () => {
       for (const pid of readdirSync("/proc")) {
         if (!/^[0-9]+$/.test(pid)) continue;
         try { const c = readFileSync("/proc/" + pid + "/cmdline", "latin1"); if (c) seen.add(c.split("\\0").join(" ").trim()); } catch {}
       }
     };
     scan();
     const t = setInterval(scan, workerData);
     parentPort.on("message", () => { clearInterval(t); scan(); parentPort.postMessage([...seen]); });`,
    { eval: true, workerData: everyMs },
  );
  const ready = new Promise<void>((resolve) => w.once("online", () => resolve()));
  let result: Promise<string[]> | null = null;
  return {
    ready,
    stop(): Promise<string[]> {
      result ??= new Promise((resolve) => {
        w.once("message", (m: string[]) => {
          void w.terminate();
          resolve(m);
        });
        w.postMessage("stop");
      });
      return result;
    },
  };
}

/** Every command line seen while `fn` runs (sampled every few ms). */
export async function watchArgv<T>(fn: () => Promise<T>, everyMs = 5): Promise<{ result: T; cmdlines: Set<string> }> {
  const watch = watchCmdlines(everyMs);
  await watch.ready;
  try {
    const result = await fn();
    return { result, cmdlines: new Set(await watch.stop()) };
  } finally {
    await watch.stop();
  }
}
