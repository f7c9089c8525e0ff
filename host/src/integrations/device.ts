// What the integrations (Keystone, Ceph) need of the token, and how they get it. The CLI layer acquires
// the session (the daemon, else the device: cli/context.ts) and hands it in as a DeviceAccess; the
// integrations never open one themselves.
import type { CodeData, ListData, SlotInfo } from "../../../protocol/index.ts";
import type { AddArgs } from "../session.ts";

/** The slot operations an integration uses (host/src/session.ts's Session has them). */
export interface SlotDevice {
  add(a: AddArgs): Promise<{ slot: SlotInfo }>;
  delete(name: string): Promise<unknown>;
  /** Codes of one slot, or of every slot without a name (as Session.code). */
  code(name?: string): Promise<CodeData>;
  list(): Promise<ListData>;
}

/** A way to reach the token: one session for `fn`, opened before and closed after it. */
export interface DeviceAccess {
  session<T>(fn: (s: SlotDevice) => Promise<T>): Promise<T>;
}

/** The slot operations with one short session per call (the device, or the daemon, is held only that long). */
export function perCall(access: DeviceAccess): SlotDevice {
  return {
    add: (a) => access.session((s) => s.add(a)),
    delete: (name) => access.session((s) => s.delete(name)),
    code: (name) => access.session((s) => s.code(name)),
    list: () => access.session((s) => s.list()),
  };
}
