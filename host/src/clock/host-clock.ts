// Is the host's own clock disciplined? A sync copies the host's time into the token, so a host clock that
// no time service keeps right would carry its error into every code. Asks systemd-timesyncd/chrony through
// `timedatectl show` (NTPSynchronized=yes|no); unknown when there is no timedatectl (containers, macOS).
import { execFile } from "node:child_process";

export interface HostClockStatus {
  /** true: a time service says the clock is synchronised; false: it says it is not; null: nobody says. */
  synchronized: boolean | null;
  /** What answered ("timedatectl") or why nothing did. */
  source: string;
}

export type Runner = (cmd: string, args: string[]) => Promise<string>;

const defaultRunner: Runner = (cmd, args) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 2000, env: { ...process.env, LC_ALL: "C" } }, (err, stdout) => {
      if (err) reject(err);
      else resolve(String(stdout));
    });
  });

export async function checkHostClock(run: Runner = defaultRunner): Promise<HostClockStatus> {
  try {
    const out = (await run("timedatectl", ["show", "-p", "NTPSynchronized", "--value"])).trim();
    if (out === "yes") return { synchronized: true, source: "timedatectl" };
    if (out === "no") return { synchronized: false, source: "timedatectl" };
    return { synchronized: null, source: "timedatectl gave " + JSON.stringify(out.substring(0, 40)) };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return { synchronized: null, source: code === "ENOENT" ? "no timedatectl" : "timedatectl failed" };
  }
}

export function hostClockWarning(s: HostClockStatus): string | null {
  if (s.synchronized === false) {
    return (
      "The host clock is not synchronised (" + s.source + "): the device is set from it, so check NTP (e.g. `timedatectl set-ntp true`)."
    );
  }
  return null;
}
