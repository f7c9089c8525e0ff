// hwtotp info: firmware and protocol version, board, slots, algorithms, clock and heap (the hello op).
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, withSession } from "../context.ts";

export function register(program: Command): void {
  addCommonOptions(program.command("info").description("show the token's firmware, board, slots, clock and memory")).action(
    async (opts: CommonOptions) => {
      await withSession(opts, async (s, route) => {
        const h = s.info ?? (await s.hello());
        output(opts, { ...h, via: route.via, address: route.address }, () =>
          [
            "Device:     " + route.address + (route.via === "daemon" ? " (through the daemon)" : ""),
            "Firmware:   " + h.fw + " (protocol " + h.proto + ")",
            "Board:      " + h.board,
            "Slots:      " + h.slots.used + " of " + h.slots.max + " used",
            "Algorithms: " + h.algs.join(", "),
            "Clock:      " + (h.clock.set ? new Date(h.clock.t * 1000).toISOString() : "not set (run `hwtotp time sync`)") +
              (h.clock.ppm ? ", drift correction " + h.clock.ppm + " ppm" : ""),
            "Memory:     " + h.heap.free + " of " + h.heap.total + " variables free",
          ].join("\n"),
        );
      });
    },
  );
}
