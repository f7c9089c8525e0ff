// Ceph failures as the CLI reports them: RGW refused a pin, or radosgw-admin failed (exit EXIT.CEPH).
import { EXIT, HwtotpError } from "../../errors.ts";
import { RadosgwAdminError } from "./radosgw-admin.ts";

export class CephError extends HwtotpError {
  constructor(message: string, code = "E_CEPH") {
    super(message);
    this.exitCode = EXIT.CEPH;
    this.code = code;
  }
}

/** A radosgw-admin failure as a CephError (same sentence and code); anything else as it is. */
export function asCephError(e: unknown): unknown {
  return e instanceof RadosgwAdminError ? new CephError(e.message, e.code) : e;
}

/** Runs fn, turning radosgw-admin failures into CephErrors. */
export async function cephErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asCephError(e);
  }
}
