// Estimate of Espruino's variable use ("JsVars", 16-byte blocks) for the data a program holds, so the
// emulator can cap it per board and fail with "Out of Memory!" like the device.
//
// Cost model (per Espruino's jsvar.c layout, 16-byte JsVars):
//  - object, array, function, typed array, ArrayBuffer: 1 block for the container;
//  - each property/element/closure variable: 1 block for its name (names over 8 chars: +1 per 12 more chars);
//    an int32, boolean, null or undefined value is packed into the name block; a double costs +1;
//  - a string: 1 block holds 10 chars, each extension block 12 more; strings over 64 chars are flat strings
//    (1 header + ceil(len/16)); a string equal to one read from Storage is a native string pointing into flash
//    (1 block), which is how code and data loaded from Storage stay in flash on the device;
//  - typed array: view 1 + ArrayBuffer 1 + its bytes as a (flat) string;
//  - function: 1 + 1 for its code (a native string into flash for code loaded from Storage; code typed at the
//    REPL counts its full text) + 1 scope link; its closure scope is walked once, shared by its siblings.
// Roots: globals the program added, event listeners, timers, watches; closure scopes are read through the V8
// inspector (only variables that inner functions capture are visible there, so this slightly undercounts).
import inspector from "node:inspector";

export function stringBlocks(len: number): number {
  if (len <= 10) return 1;
  if (len > 64) return 1 + Math.ceil(len / 16);
  return 1 + Math.ceil((len - 10) / 12);
}

function nameBlocks(name: string): number {
  return name.length <= 8 ? 1 : 1 + Math.ceil((name.length - 8) / 12);
}

let session: inspector.Session | null = null;
let sessionFailed = false;
const PROBE = "__hwtotpHeapProbe";
const OUT = "__hwtotpHeapOut";

function post(method: string, params: object): any {
  let res: any;
  let err: Error | null = null;
  session!.post(method, params, (e, r) => {
    err = e;
    res = r;
  });
  if (err) throw err;
  return res;
}

/** Closure scope objects of a function (materialised copies), or [] when the inspector is unavailable. */
function closureScopes(fn: Function): object[] {
  if (sessionFailed) return [];
  try {
    if (!session) {
      session = new inspector.Session();
      session.connect();
    }
    const g = globalThis as any;
    g[PROBE] = fn;
    const ev = post("Runtime.evaluate", { expression: "globalThis." + PROBE, objectGroup: "hwtotp-heap" });
    const props = post("Runtime.getProperties", { objectId: ev.result.objectId, ownProperties: true });
    const sc = (props.internalProperties || []).find((p: any) => p.name === "[[Scopes]]");
    const out: object[] = [];
    if (sc && sc.value && sc.value.objectId) {
      const list = post("Runtime.getProperties", { objectId: sc.value.objectId, ownProperties: true });
      for (const item of list.result) {
        if (!item.value || !item.value.objectId) continue;
        const d = item.value.description;
        if (d !== "Closure" && d !== "Block" && d !== "Local" && d !== "Script") continue;
        post("Runtime.callFunctionOn", { objectId: item.value.objectId, functionDeclaration: "function(){ globalThis." + OUT + " = this; }", objectGroup: "hwtotp-heap" });
        const o = g[OUT];
        if (o && o.object) out.push(o.object);
      }
    }
    post("Runtime.releaseObjectGroup", { objectGroup: "hwtotp-heap" });
    g[PROBE] = undefined;
    g[OUT] = undefined;
    return out;
  } catch (e) {
    sessionFailed = true;
    return [];
  }
}

export interface HeapWalkOptions {
  /** Objects never counted nor walked (the interpreter's built-ins). */
  builtins: WeakSet<object>;
  /** Strings that live in flash (read from Storage): 1 block each. */
  flashStrings: Set<string>;
  /** Walk closure scopes through the inspector (slower, more complete). */
  closures: boolean;
  /** Function.prototype of the program's realm: functions of any other realm (the emulator's own) are skipped. */
  functionProto?: object;
}

/** Blocks used by everything reachable from `roots` (each object counted once). */
export function countBlocks(roots: unknown[], opts: HeapWalkOptions): number {
  const seen = new WeakSet<object>();
  const scopeSigs = new Set<string>();
  const ids = new WeakMap<object, number>();
  let nextId = 1;
  let total = 0;
  const stack: unknown[] = roots.slice();

  function valueBlocks(v: unknown): number {
    if (v === null || v === undefined || typeof v === "boolean") return 0;
    if (typeof v === "number") return (v | 0) === v ? 0 : 1;
    if (typeof v === "string") return opts.flashStrings.has(v) ? 1 : stringBlocks(v.length);
    if (typeof v === "object" || typeof v === "function") {
      stack.push(v);
      return 0;
    }
    return 1;
  }

  function idOf(o: object): number {
    let id = ids.get(o);
    if (!id) {
      id = nextId++;
      ids.set(o, id);
    }
    return id;
  }

  while (stack.length) {
    const v = stack.pop();
    if (v === null || (typeof v !== "object" && typeof v !== "function")) {
      total += valueBlocks(v);
      continue;
    }
    const o = v as object;
    if (seen.has(o) || opts.builtins.has(o)) continue;
    seen.add(o);
    if (ArrayBuffer.isView(o)) {
      total += 2 + stringBlocks((o as Uint8Array).byteLength);
      continue;
    }
    if (Object.prototype.toString.call(o) === "[object ArrayBuffer]") {
      total += 1 + stringBlocks((o as ArrayBuffer).byteLength);
      continue;
    }
    if (typeof o === "function" && opts.functionProto && Object.getPrototypeOf(o) !== opts.functionProto) {
      let p = Object.getPrototypeOf(o);
      while (p && p !== opts.functionProto) p = Object.getPrototypeOf(p);
      if (!p) continue;
    }
    total += 1;
    if (typeof o === "function") {
      total += 2;
      if (opts.closures) {
        for (const scope of closureScopes(o as Function)) {
          const keys = Object.keys(scope);
          const sig = keys.map((k) => {
            const x = (scope as any)[k];
            return k + "=" + (x !== null && (typeof x === "object" || typeof x === "function") ? "#" + idOf(x) : typeof x + ":" + String(x).length);
          }).join(",");
          if (scopeSigs.has(sig)) continue;
          scopeSigs.add(sig);
          for (const k of keys) total += nameBlocks(k) + valueBlocks((scope as any)[k]);
        }
      }
    }
    let keys: string[];
    try {
      keys = Object.keys(o);
    } catch (e) {
      continue;
    }
    for (const k of keys) {
      if (typeof o === "function" && k === "prototype") continue;
      let x: unknown;
      try {
        const d = Object.getOwnPropertyDescriptor(o, k);
        x = d && "value" in d ? d.value : undefined;
      } catch (e) {
        x = undefined;
      }
      total += nameBlocks(k) + valueBlocks(x);
    }
    const proto = Object.getPrototypeOf(o);
    if (proto && !opts.builtins.has(proto)) stack.push(proto);
  }
  return total;
}
