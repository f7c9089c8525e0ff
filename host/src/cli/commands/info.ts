// hwtotp info: firmware and protocol version, board, slots, algorithms, clock, heap, PIN state and how the
// token guards changes (the hello op).
import type { Command } from "commander";
import { addCommonOptions, type CommonOptions, output, withSession } from "../context.ts";
import { guardLine, pinLine } from "../pin-input.ts";

export function register(program: Command): void {
  addCommonOptions(program.command("info").description("show the token's firmware, board, slots, clock, memory, PIN and guard")).action(
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
            "Clock:      " +
              (h.clock.set ? new Date(h.clock.t * 1000).toISOString() : "not set (run `hwtotp time sync`)") +
              (h.clock.ppm ? ", drift correction " + h.clock.ppm + " ppm" : ""),
            "Memory:     " + h.heap.free + " of " + h.heap.total + " variables free",
            ...(h.pin ? ["PIN:        " + pinLine(h.pin)] : []),
            ...(h.guard
              ? ["Guard:      " + guardLine(h.guard)]
              : ["Guard:      unknown (firmware without a PIN: update it with `hwtotp flash`)"]),
          ].join("\n"),
        );
      });
    },
  );
}
