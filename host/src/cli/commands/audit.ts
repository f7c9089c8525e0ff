// hwtotp audit [FILE] [--since T] [--json]: reads the daemon's audit log (`hwtotp daemon --audit FILE`):
// one line per entry (time, op, slot, the kernel's pid/uid/gid, exe, client, result), or one JSON document.
import fs from "node:fs";
import type { Command } from "commander";
import { output, say, UsageError } from "../context.ts";
import { HwtotpError } from "../../errors.ts";

export function register(program: Command): void {
  program
    .command("audit")
    .description("read the daemon's audit log (written with `hwtotp daemon --audit FILE`)")
    .argument("[file]", "the audit log (default: $HWTOTP_AUDIT)")
    .option("--since <time>", "entries from then on: an ISO date or time, Unix seconds, or an age (90s, 15m, 2h, 7d)")
    .option("--json", "print one JSON document {file, entries, skipped} on stdout")
    .action(async (fileArg: string | undefined, opts: { since?: string; json?: boolean }) => {
      const { formatEntry, parseSince, readAudit } = await import("../../daemon/audit.ts");
      const file = fileArg ?? (process.env.HWTOTP_AUDIT || undefined);
      if (!file) throw new UsageError("Name the audit log (the file given to `hwtotp daemon --audit`), or set HWTOTP_AUDIT.");
      const since = opts.since === undefined ? null : parseSince(opts.since);
      if (opts.since !== undefined && since === null) {
        throw new UsageError("--since must be an ISO date or time (2026-12-01T08:00Z), Unix seconds, or an age such as 15m, 2h or 7d.");
      }
      let text: string;
      try {
        text = fs.readFileSync(file, "utf8");
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new HwtotpError(
          "Cannot read the audit log " + file + (code === "ENOENT" ? ": no such file." : " (" + (code ?? "error") + ")."),
        );
      }
      const { entries, skipped } = readAudit(text, since);
      if (skipped && !opts.json)
        say("hwtotp: " + skipped + " line" + (skipped === 1 ? " is" : "s are") + " not audit entries and were skipped.");
      output({ json: opts.json }, { file, since: since === null ? null : new Date(since).toISOString(), entries, skipped }, () =>
        entries.length ? entries.map(formatEntry).join("\n") : "",
      );
    });
}
