// The undo list of a multi-step change (an enrolment: a slot on the token, then a credential or an RGW
// token, then MFA options): each step that succeeded registers its undo; on a failure the undo steps run
// newest first, every one of them even when an earlier one fails, and the report says truthfully which
// were undone and which were not (with the error code of each failure).
import { HwtotpError } from "../errors.ts";

/** An undo step that failed: what stays behind, and why (the error's code and sentence). */
export interface UndoFailure {
  what: string;
  code: string;
  message: string;
}

export interface RollbackReport {
  /** What was undone, in the order it was undone. */
  undone: string[];
  /** What could not be undone: it is still there. */
  failed: UndoFailure[];
}

/** The code of any error: a host error's (E_NOSLOT, E_DISCONNECTED…), a system error's (ENOENT…), else E_HOST. */
export function errorCode(err: unknown): string {
  if (err instanceof HwtotpError) return err.code;
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === "string" && c !== "" ? c : "E_HOST";
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class Rollback {
  #steps: { what: string; run: () => Promise<unknown> }[] = [];

  /** Registers the undo of a step that just succeeded; `what` names what the undo removes or restores. */
  add(what: string, run: () => Promise<unknown>): void {
    this.#steps.push({ what, run });
  }

  /** Steps registered and not yet run. */
  get size(): number {
    return this.#steps.length;
  }

  /**
   * Runs the undo steps newest first (each once) and reports; never throws. `log` hears each undone step;
   * `describe` words a failed undo's error (default: its message).
   */
  async run(log: (sentence: string) => void = () => undefined, describe: (err: unknown) => string = messageOf): Promise<RollbackReport> {
    const report: RollbackReport = { undone: [], failed: [] };
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step.run();
        report.undone.push(step.what);
        log(`Rolled back: ${step.what}.`);
      } catch (err) {
        report.failed.push({ what: step.what, code: errorCode(err), message: describe(err) });
      }
    }
    return report;
  }
}

/** Whether every undo step succeeded. */
export function rolledBack(r: RollbackReport): boolean {
  return r.failed.length === 0;
}

/** The failed undo steps as words: `slot "x" on the token (E_DISCONNECTED: The device went away.)`. */
export function leftovers(r: RollbackReport): string[] {
  return r.failed.map((f) => `${f.what} (${f.code}: ${f.message.replace(/\.$/, "")})`);
}

/**
 * One sentence on a rollback: "rolled back (a, b)" only when every undo succeeded; otherwise it names what
 * was NOT rolled back, with its error code, and what was.
 */
export function rollbackSentence(r: RollbackReport): string {
  if (rolledBack(r)) return r.undone.length ? `rolled back (${r.undone.join("; ")})` : "nothing to roll back";
  return `NOT rolled back: ${leftovers(r).join("; ")}` + (r.undone.length ? `; rolled back: ${r.undone.join("; ")}` : "");
}
