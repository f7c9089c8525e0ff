// The JavaScript realm of the emulated interpreter: a node:vm context stripped and patched to behave like
// Espruino 2v29 (see docs/facts/espruino.md). Each patch names the trap it reproduces.
import vm from "node:vm";
// Built-ins Espruino lacks (removed from the realm below): the one table, ../espruino-facts.mjs.
import { MISSING_GLOBALS, MISSING_MEMBERS, TYPED_ARRAYS } from "../espruino-facts.mjs";
import { EspruinoRegexError, espruinoMatch } from "./regex.ts";

/** The entries of the facts table the realm removes: the very arrays of ../espruino-facts.mjs (facts-shared.test.ts). */
export const REMOVED = { globals: MISSING_GLOBALS, members: MISSING_MEMBERS };

/** Constructors whose prototype object hides the built-in methods (`Array.prototype.slice` is undefined). */
const WRAPPED = [
  "Object",
  "Array",
  "String",
  "Number",
  "Boolean",
  "Function",
  "Date",
  "RegExp",
  "Promise",
  "Error",
  "TypeError",
  "SyntaxError",
  "ReferenceError",
  "InternalError",
  "ArrayBuffer",
  "DataView",
  ...TYPED_ARRAYS,
];

export interface Realm {
  context: vm.Context;
  global: any;
  /** The realm's own intrinsics, before wrapping (for values the runtime hands to the program). */
  intrinsics: {
    ArrayBuffer: ArrayBufferConstructor;
    Uint8Array: Uint8ArrayConstructor;
    JSON: JSON;
    Array: ArrayConstructor;
    Object: ObjectConstructor;
    Error: ErrorConstructor;
    SyntaxError: SyntaxErrorConstructor;
  };
  functionProto: object;
  /** Every built-in object of the realm (excluded from the heap estimate). */
  builtins: WeakSet<object>;
  /** Global names present before the program ran. */
  baseline: Set<string>;
  run(code: string, filename: string): unknown;
  /** Marks the globals added so far (the runtime's API) as built-ins. */
  adopt(): void;
}

function collectBuiltins(g: any, set: WeakSet<object>): void {
  const stack: unknown[] = [g];
  while (stack.length) {
    const o = stack.pop();
    if (o === null || (typeof o !== "object" && typeof o !== "function")) continue;
    if (set.has(o as object)) continue;
    set.add(o as object);
    for (const k of Reflect.ownKeys(o as object)) {
      const d = Reflect.getOwnPropertyDescriptor(o as object, k);
      if (!d) continue;
      if ("value" in d) stack.push(d.value);
      else {
        stack.push(d.get);
        stack.push(d.set);
      }
    }
    stack.push(Object.getPrototypeOf(o));
  }
}

export interface RealmHooks {
  /** A wrapped constructor was used with `new` or `instanceof` (its prototype object is then instantiated on the device). */
  construct?: (name: string) => void;
  /**
   * `o.__proto__ = x` with x not an object (null, a number…): on the device the object then has a prototype that is
   * not an object, and the next lookup that misses trips an assertion (see json.ts).
   */
  badProto?: (o: object) => void;
}

export function createRealm(hooks: RealmHooks = {}): Realm {
  const context = vm.createContext({}, { codeGeneration: { strings: true, wasm: false } });
  const g = vm.runInContext("this", context);
  const ev = (src: string): any => vm.runInContext(src, context);
  const intrinsics = {
    ArrayBuffer: g.ArrayBuffer,
    Uint8Array: g.Uint8Array,
    JSON: g.JSON,
    Array: g.Array,
    Object: g.Object,
    Error: g.Error,
    SyntaxError: g.SyntaxError,
  };
  const realObject = g.Object;
  const typedProto = Object.getPrototypeOf(g.Uint8Array.prototype);

  // Trap: Uint8Array#slice and #filter return a plain Array (subarray and map stay typed).
  const realSlice = typedProto.slice;
  const realFilter = typedProto.filter;
  const toArray = ev("(function (t) { var a = []; for (var i = 0; i < t.length; i++) a.push(t[i]); return a; })");
  Object.defineProperty(typedProto, "slice", {
    value: function (this: Uint8Array, a?: number, b?: number) {
      return toArray(realSlice.call(this, a, b));
    },
    writable: true,
    configurable: true,
  });
  Object.defineProperty(typedProto, "filter", {
    value: function (this: Uint8Array, f: any, t?: any) {
      return toArray(realFilter.call(this, f, t));
    },
    writable: true,
    configurable: true,
  });

  // Trap: Espruino's own regex engine (jswrap_regexp.c, ported in regex.ts) lacks `?`, `{n}`, lookahead,
  // non-capturing groups, \b as a word boundary and backreferences; exec (and so test, match, replace, split,
  // search, which V8 routes through a patched exec) runs that engine. Only i and g flags are honoured; `y` is
  // honoured for V8's internal split splitter only.
  const makeMatch = ev(
    "(function (parts, index, input) { var a = []; for (var i = 0; i < parts.length; i++) a.push(parts[i]); a.index = " +
      "index; a.input = input; return a; })",
  );
  const RealError = g.Error;
  Object.defineProperty(g.RegExp.prototype, "exec", {
    value: function (this: RegExp, arg: unknown) {
      const str = String(arg);
      const flags = this.flags;
      const sticky = flags.indexOf("y") >= 0;
      const global = flags.indexOf("g") >= 0;
      const last = Math.max(0, Math.floor(+this.lastIndex || 0));
      if (last > str.length) {
        this.lastIndex = 0;
        return null;
      }
      let m;
      try {
        m = espruinoMatch(this.source, str, last, flags.indexOf("i") >= 0, sticky);
      } catch (e) {
        if (e instanceof EspruinoRegexError) throw new RealError(e.message);
        throw e;
      }
      if (!m) {
        this.lastIndex = 0;
        return null;
      }
      this.lastIndex = global || sticky ? m.index + m.parts[0].length : 0;
      return makeMatch(m.parts, m.index, str);
    },
    writable: true,
    configurable: true,
  });

  // Trap: errors thrown by the interpreter (null.x) are plain Errors whose `name` is undefined: `e instanceof
  // TypeError` is false for them (the TypeError wrapper below only claims errors the program constructed).
  Object.defineProperty(g.TypeError.prototype, "name", { value: undefined, writable: true, configurable: true });
  const madeByProgram = new WeakSet<object>();
  // Errors on the device (src/jswrap_error.c, seen on the Linux build): RangeError does not exist, InternalError
  // does; no error has a `name`; TypeError, SyntaxError, ReferenceError and InternalError are not instanceof Error
  // (an engine error such as null.x is a plain Error, see above); String(e) is "TypeError: msg".
  g.InternalError = ev("(function () { return class InternalError extends Error {}; })()");
  const RealTypeError = g.TypeError;
  const notErrors = [g.SyntaxError, g.ReferenceError, g.InternalError];
  for (const C of [g.Error, g.SyntaxError, g.ReferenceError, g.InternalError]) {
    const label = C === g.Error ? "Error" : C.name;
    Object.defineProperty(C.prototype, "name", { value: undefined, writable: true, configurable: true });
    Object.defineProperty(C.prototype, "toString", {
      value: function (this: any) {
        return this.message ? label + ": " + this.message : label;
      },
      writable: true,
      configurable: true,
    });
  }
  Object.defineProperty(RealTypeError.prototype, "toString", {
    value: function (this: any) {
      const label = madeByProgram.has(this) ? "TypeError" : "Error";
      return this.message ? label + ": " + this.message : label;
    },
    writable: true,
    configurable: true,
  });
  const plainError = (x: unknown): boolean =>
    !notErrors.some((C) => x instanceof C) && !(x instanceof RealTypeError && madeByProgram.has(x as object));

  // Trap: static methods are not inherited by subclasses (a function's prototype link cannot be changed).
  const realSetProto = g.Object.setPrototypeOf;
  g.Object.setPrototypeOf = function (o: any, p: any) {
    return typeof o === "function" ? o : realSetProto(o, p);
  };
  const protoDesc = Object.getOwnPropertyDescriptor(g.Object.prototype, "__proto__")!;
  Object.defineProperty(g.Object.prototype, "__proto__", {
    get: protoDesc.get,
    configurable: true,
    set: function (this: any, p: any) {
      if (typeof this === "function") return;
      if ((p === null || (typeof p !== "object" && typeof p !== "function")) && hooks.badProto && this !== null && typeof this === "object")
        hooks.badProto(this);
      else protoDesc.set!.call(this, p);
    },
  });

  // Built-ins Espruino lacks.
  // Non-configurable ones (Number.MAX_SAFE_INTEGER) are left out of the constructor wrappers below instead.
  const skipStatic = new Set<string>();
  for (const [path, name] of MISSING_MEMBERS) {
    let owner = path.split(".").reduce((o: any, k) => (o ? o[k] : undefined), g);
    // a typed array's methods live on the shared %TypedArray%.prototype, not on Uint8Array.prototype itself
    if (owner && /Array\.prototype$/.test(path) && path !== "Array.prototype" && !Object.prototype.hasOwnProperty.call(owner, name))
      owner = Object.getPrototypeOf(owner);
    if (!owner) continue;
    try {
      if (!delete owner[name]) skipStatic.add(path + "." + name);
    } catch (e) {
      skipStatic.add(path + "." + name);
    }
  }

  // Trap: a built-in read off a prototype object (`Array.prototype.slice`) is undefined; reads off instances work.
  // Object.prototype's own hasOwnProperty, toString and valueOf are the exception (seen on the Linux build): they
  // read as functions off Object.prototype and, through the prototype chain, off every other prototype.
  const OBJECT_PROTO_VISIBLE = ["hasOwnProperty", "toString", "valueOf"];
  const objectProto = g.Object.prototype;
  const altProtos = new Map<Function, object>();
  for (const name of WRAPPED) {
    const Real = g[name];
    if (typeof Real !== "function") continue;
    const realProto = Real.prototype;
    const hidden = new Set(Reflect.ownKeys(realProto).filter((k) => k !== "constructor"));
    const view: object = new Proxy(realProto, {
      get(t, k, r) {
        if (r === view)
          return hidden.has(k)
            ? OBJECT_PROTO_VISIBLE.indexOf(k as string) >= 0
              ? objectProto[k as string]
              : undefined
            : Reflect.get(t, k, t);
        return Reflect.get(t, k, r);
      },
      set(t, k, v, r) {
        if (r === view) {
          hidden.delete(k);
          return Reflect.set(t, k, v, t);
        }
        return Reflect.set(t, k, v, r);
      },
    });
    // Trap: BYTES_PER_ELEMENT is undefined on typed-array instances too. V8 keeps it non-configurable on each
    // typed-array prototype, so instances the program constructs get a copy of that prototype without it.
    let instanceTarget: Function = Real;
    if (typeof realProto.BYTES_PER_ELEMENT === "number") {
      const alt = Object.create(Object.getPrototypeOf(realProto));
      for (const k of Reflect.ownKeys(realProto))
        if (k !== "BYTES_PER_ELEMENT") Object.defineProperty(alt, k, Reflect.getOwnPropertyDescriptor(realProto, k)!);
      const T = function () {};
      T.prototype = alt;
      instanceTarget = T;
      altProtos.set(Real, alt);
    }
    const isError = name === "TypeError";
    const W = function (this: unknown, ...args: unknown[]) {
      if (new.target && hooks.construct) hooks.construct(name);
      const o = new.target ? Reflect.construct(Real, args, new.target === W ? instanceTarget : new.target) : Real.apply(this, args);
      if (isError) madeByProgram.add(o);
      return o;
    };
    for (const k of Reflect.ownKeys(Real)) {
      if (k === "prototype" || k === "length" || k === "name" || k === "BYTES_PER_ELEMENT") continue;
      if (typeof k === "string" && skipStatic.has(name + "." + k)) continue;
      Object.defineProperty(W, k, Reflect.getOwnPropertyDescriptor(Real, k)!);
    }
    Object.defineProperty(W, "name", { value: name });
    Object.defineProperty(W, "prototype", { value: view, writable: false });
    const alt = altProtos.get(Real);
    if (alt) Object.defineProperty(alt, "constructor", { value: W, writable: true, configurable: true });
    const hasInstance = isError
      ? (x: unknown) => x instanceof Real && madeByProgram.has(x as object)
      : name === "Error"
        ? (x: unknown) => x instanceof Real && plainError(x)
        : alt
          ? (x: unknown) => x instanceof Real || (typeof x === "object" && x !== null && alt.isPrototypeOf(x))
          : (x: unknown) => x instanceof Real;
    Object.defineProperty(W, Symbol.hasInstance, {
      value: (x: unknown) => {
        if (hooks.construct) hooks.construct(name);
        return hasInstance(x);
      },
    });
    Object.setPrototypeOf(W, Object.getPrototypeOf(Real));
    Object.defineProperty(g, name, { value: W, writable: true, configurable: true, enumerable: false });
  }
  if (g.Object !== realObject) g.Object.setPrototypeOf = realObject.setPrototypeOf;

  for (const name of MISSING_GLOBALS) delete g[name];
  g.Function.prototype; // keep
  const builtins = new WeakSet<object>();
  collectBuiltins(g, builtins);
  const baseline = new Set(Object.getOwnPropertyNames(g));
  return {
    context: context,
    global: g,
    intrinsics: intrinsics,
    functionProto: vm.runInContext("Object.getPrototypeOf(function () {})", context),
    builtins: builtins,
    baseline: baseline,
    adopt(): void {
      for (const k of Object.getOwnPropertyNames(g)) {
        if (baseline.has(k)) continue;
        baseline.add(k);
        collectBuiltins(g[k], builtins);
      }
    },
    run(code: string, filename: string): unknown {
      return vm.runInContext(code, context, { filename: filename });
    },
  };
}
