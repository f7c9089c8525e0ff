// Watches the environment (/proc/PID/environ) of every process whose command line matches a pattern, for
// the e2e check that the openstack CLI run through the keystoneauth plugin never holds a passcode in its
// environment. Scans in a worker thread (as argv-watch.ts) so that the emulator on the test's thread keeps
// answering.
import { Worker } from "node:worker_threads";

export interface EnvironWatch {
  ready: Promise<void>;
  /** Stops (after one last pass) and gives, per process seen, its command line and environment variables. */
  stop(): Promise<{ pid: number; cmdline: string; env: string[] }[]>;
}

/** Environments of processes whose command line contains `needle`, sampled every `everyMs`. */
export function watchEnviron(needle: string, everyMs = 20): EnvironWatch {
  const w = new Worker(
    `const { readdirSync, readFileSync } = require("node:fs");
     const { parentPort, workerData } = require("node:worker_threads");
     const seen = new Map();
     const scan = () => {
       for (const pid of readdirSync("/proc")) {
         if (!/^[0-9]+$/.test(pid) || seen.has(pid)) continue;
         try {
           const c = readFileSync("/proc/" + pid + "/cmdline", "latin1").split("\\0").join(" ").trim();
           if (!c.includes(workerData.needle)) continue;
           const e = readFileSync("/proc/" + pid + "/environ", "latin1").split("\\0").filter(Boolean);
           seen.set(pid, { pid: Number(pid), cmdline: c, env: e });
         } catch {}
       }
     };
     scan();
     const t = setInterval(scan, workerData.everyMs);
     parentPort.on("message", () => { clearInterval(t); scan(); parentPort.postMessage([...seen.values()]); });`,
    { eval: true, workerData: { needle, everyMs } },
  );
  const ready = new Promise<void>((resolve) => w.once("online", () => resolve()));
  let result: Promise<{ pid: number; cmdline: string; env: string[] }[]> | null = null;
  return {
    ready,
    stop() {
      result ??= new Promise((resolve) => {
        w.once("message", (m: { pid: number; cmdline: string; env: string[] }[]) => {
          void w.terminate();
          resolve(m);
        });
        w.postMessage("stop");
      });
      return result;
    },
  };
}
