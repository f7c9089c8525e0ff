// hwtotp devices: the serial ports seen (Espruino boards marked), the device in $HWTOTP_DEVICE, the daemon.
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output } from "../context.ts";
import { defaultSocketPath, connectDaemon } from "../../daemon-client.ts";

export function register(program: Command): void {
  addCommonOptions(
    program.command("devices").description("list attached Espruino boards and other serial ports, and whether the daemon runs"),
  ).action(async (opts: CommonOptions) => {
    const { listCandidates, describeCandidate } = await import("../../link/discover.ts");
    const candidates = await listCandidates();
    const socket = opts.socket ?? defaultSocketPath();
    const link = await connectDaemon(socket);
    if (link) await link.close();
    const env = process.env.HWTOTP_DEVICE ?? null;
    output(opts, { candidates, env, daemon: { socket, running: !!link } }, () => {
      const lines: string[] = [];
      for (const c of candidates) lines.push((c.espruino ? "* " : "  ") + describeCandidate(c));
      if (!candidates.length) lines.push("No serial ports found.");
      if (env) lines.push("HWTOTP_DEVICE=" + env);
      lines.push("Daemon: " + (link ? "running on " + socket : "not running (" + socket + ")"));
      return lines.join("\n");
    });
  });
}
