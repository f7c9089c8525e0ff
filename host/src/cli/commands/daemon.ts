// hwtotp daemon [--socket PATH] [--policy FILE] [--audit FILE]: owns the device and serves the CLI over a
// Unix socket (0600; with the policy's socket group 0660), deciding each request by the kernel's word on the
// caller and the policy (re-read on SIGHUP), and writing every request to the audit log.
import type { Command } from "commander";
import { say } from "../context.ts";
import { defaultSocketPath } from "../../daemon-client.ts";

export function register(program: Command): void {
  program
    .command("daemon")
    .description("own the device and serve hwtotp commands over a Unix socket; the CLI uses it when it runs")
    .option("--socket <path>", "socket path (default: $HWTOTP_SOCKET or $XDG_RUNTIME_DIR/hwtotp.sock)")
    .option("-d, --device <address>", "device address (default: $HWTOTP_DEVICE, else the one attached Espruino)")
    .option("--policy <file>", "who may do what (YAML, re-read on SIGHUP); default: this user everything, nobody else anything")
    .option("--audit <file>", "audit log: JSON lines, mode 0600 (default: $HWTOTP_AUDIT, else stderr)")
    .option("--retry <ms>", "delay between reconnect attempts while the device is away", "1000")
    .option("--json", "print {socket, pid, device, policy, audit} as one JSON document once listening (the log stays on stderr)")
    .option("--sync-interval <s>", "longest time between automatic clock syncs, s (default 259200: 3 days)")
    .action(
      async (opts: {
        socket?: string;
        device?: string;
        policy?: string;
        audit?: string;
        retry: string;
        syncInterval?: string;
        json?: boolean;
      }) => {
        const { Daemon } = await import("../../daemon.ts");
        const { createClockKeeper } = await import("../../clock/keeper.ts");
        const keeper = createClockKeeper({
          log: (l) => say(l),
          interval: opts.syncInterval ? Math.max(60, Number(opts.syncInterval) || 0) : undefined,
        });
        const audit = opts.audit ?? (process.env.HWTOTP_AUDIT || undefined);
        const d = new Daemon({
          socketPath: opts.socket ?? defaultSocketPath(),
          device: opts.device ?? process.env.HWTOTP_DEVICE,
          retryMs: Number(opts.retry) || 1000,
          onConnect: (s) => keeper.onConnect(s),
          policyFile: opts.policy,
          auditFile: audit,
        });
        keeper.attach((fn) => d.withDevice(fn));
        await d.start();
        const hup = () => d.reload();
        process.on("SIGHUP", hup);
        if (opts.json) {
          const doc = {
            socket: d.opts.socketPath,
            pid: process.pid,
            device: d.opts.device ?? null,
            policy: opts.policy ?? null,
            audit: audit ?? null,
          };
          process.stdout.write(JSON.stringify(doc) + "\n");
        }
        await new Promise<void>((resolve) => {
          const stop = (sig: string) => () => {
            say("Stopping on " + sig + ".");
            process.off("SIGHUP", hup);
            keeper.stop();
            d.stop().then(resolve, resolve);
          };
          process.once("SIGINT", stop("SIGINT"));
          process.once("SIGTERM", stop("SIGTERM"));
        });
      },
    );
}
