// How Espruino's REPL prints a value (`=…`), for the emulator's REPL and print(); its own module so that
// repl.ts and globals.ts (print) share it.

/** Espruino's REPL rendering of a value (`=…`). */
export function formatValue(v: unknown, depth = 0): string {
  if (v === undefined) return "undefined";
  if (v === null) return "null";
  if (typeof v === "string") return depth === 0 ? JSON.stringify(v) : JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "function") return "function () { [code] }";
  if (depth > 3) return "...";
  if (Array.isArray(v)) return v.length ? "[ " + v.map((x) => formatValue(x, depth + 1)).join(", ") + " ]" : "[  ]";
  if (ArrayBuffer.isView(v))
    return "new " + ((v as any).constructor && (v as any).constructor.name) + "([" + Array.prototype.join.call(v, ", ") + "])";
  if (typeof v === "object") {
    const keys = Object.keys(v as object);
    if (!keys.length) return "{  }";
    return "{\r\n" + keys.map((k) => "  " + JSON.stringify(k) + ": " + formatValue((v as any)[k], depth + 1)).join(",\r\n") + "\r\n }";
  }
  return String(v);
}
