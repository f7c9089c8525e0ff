// The clock of the token, host side: measure (NTP-style), learn drift, sync within a policy, resync codes.
export * from "./types.ts";
export * from "./measure.ts";
export * from "./drift.ts";
export * from "./policy.ts";
export * from "./host-clock.ts";
export * from "./sync.ts";
export * from "./resync.ts";
export * from "./report.ts";
export * from "./keeper.ts";
