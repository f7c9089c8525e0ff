// Estimate of Espruino's variable use (JsVars, "blocks") for what a program holds, so the emulator can report
// process.memory() and cap the heap per board, failing with "Out of Memory!" like the device.
//
// The model follows the interpreter's own layout (src/jsutils.h, src/jsvar.h, src/jsparse.c of 2v29; checked
// against trace() on the Linux builds, ../shared/espruino) and is parameterised per board by JsVarLayout:
//  - a block holds a name of `nameChars` characters (4 on a 32-bit chip, 8 on a 64-bit build), a string of
//    `strChars` in its first block and `extChars` in each extension block; a flat string (ArrayBuffer data made
//    by the API, or bigger than strChars+extChars) is 1 header + its bytes in whole blocks of `blockBytes`;
//  - object, array: 1 block, plus per property or element 1 name block (string names longer than nameChars take
//    extension blocks; array indices are integer names) and its value: an integer that fits a reference
//    (±2^(refBits-1)) is packed into the name, so is a boolean under an integer name; undefined takes nothing;
//    any other number, a boolean under a string name, null, a string: their own blocks; a prototype other than
//    the default one is a "__proto__" child;
//  - function (jspeFunctionDefinition): 1 + its code ("\xFFcod" name + the code: 1 native/flash string when
//    parsed from a Storage file, as on every board, else a RAM copy of its text) + 1 "\xFFpar"-style name per
//    parameter + its scope link ("\xFFsco": nothing at global level, a reference inside one function, a copied
//    array of scopes when nested deeper);
//  - an execution scope that a living function keeps (its enclosing function's invocation): 1 + a name per
//    local (parameters, var, function declarations: all of them, as Espruino keeps the whole scope) + values.
//    V8 only shows the variables some closure captures: the others are counted by name from the source.
// Where a function comes from (parameters, locals, nesting) is read from the source it was compiled from:
// the V8 inspector gives each function's [[FunctionLocation]] and [[Scopes]].
import inspector from "node:inspector";
import * as acorn from "acorn";
import type { JsVarLayout } from "./boards.ts";

export interface Layout {
  nameChars: number;
  strChars: number;
  extChars: number;
  blockBytes: number;
  intMin: number;
  intMax: number;
}

/** Block geometry of a JsVarLayout (src/jsutils.h: JSVAR_DATA_STRING_NAME_LEN, _LEN, _MAX_LEN; sizeof(JsVar)). */
export function layoutOf(l: JsVarLayout): Layout {
  const nameChars = l.word64 ? 8 : 4;
  const refBytes3 = (l.refBits * 3 + l.packBits) >> 3;
  const ext = (l.refBits * 3 + l.packBits + l.refcountBits) >> 3;
  return {
    nameChars: nameChars,
    strChars: nameChars + refBytes3,
    extChars: nameChars + ext,
    blockBytes: nameChars + Math.ceil((l.refBits * 4 + l.packBits + l.refcountBits) / 8) + 2,
    intMin: l.refBits >= 32 ? -2147483648 : -(2 ** (l.refBits - 1)),
    intMax: l.refBits >= 32 ? 2147483647 : 2 ** (l.refBits - 1) - 1,
  };
}

/** The 16-byte layout the emulator used before it followed the board (16-bit references, 32-bit chip). */
export const DEFAULT_LAYOUT = layoutOf({ refBits: 16, refcountBits: 8, packBits: 0, word64: false });

/** Blocks of a (non-flat) string of `len` characters. */
export function stringBlocks(len: number, L: Layout = DEFAULT_LAYOUT): number {
  return len <= L.strChars ? 1 : 1 + Math.ceil((len - L.strChars) / L.extChars);
}

/** Blocks of a flat string (contiguous data behind one header block). */
export function flatBlocks(len: number, L: Layout = DEFAULT_LAYOUT): number {
  return 1 + Math.ceil(len / L.blockBytes);
}

/** Blocks of a buffer's data: flat when made by the API or past the break-even, else a normal string. */
export function bufferBlocks(len: number, api: boolean, L: Layout = DEFAULT_LAYOUT): number {
  return api || len > L.strChars + L.extChars ? flatBlocks(len, L) : stringBlocks(len, L);
}

export function nameBlocks(len: number, L: Layout = DEFAULT_LAYOUT): number {
  return len <= L.nameChars ? 1 : 1 + Math.ceil((len - L.nameChars) / L.extChars);
}

// ------------------------------------------------------------------------------------------- sources

interface FnNode {
  id: number;
  params: string[];
  /** params + var names + function declaration names: what its execution scope holds. */
  locals: string[];
  /** Enclosing functions, innermost first. */
  chain: FnNode[];
  /** Length of the code Espruino stores (the body between the braces; an arrow's expression). */
  codeLen: number;
  /** A named function expression keeps its name ("\xFFnam"). */
  named: string | null;
  start: number;
  end: number;
}

interface Script {
  code: string;
  flash: boolean;
  lineStarts: number[];
  /** Function nodes by the offset V8 reports as their location (the parameter list). */
  byLoc: Map<number, FnNode>;
  /**
   * Loops (for, while, do, for-in/of) as the ranges where Espruino holds saved lexer positions (JslCharPos) into
   * the source: test, update and body; fn is the innermost function around the loop (null: top level).
   */
  loops: { start: number; end: number; fn: FnNode | null }[];
}

let nextFnId = 1;

function indexScript(code: string, flash: boolean): Script {
  const lineStarts = [0];
  for (let i = 0; i < code.length; i++) if (code.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const byLoc = new Map<number, FnNode>();
  let ast: acorn.Node;
  try {
    ast = acorn.parse(code, { ecmaVersion: "latest", sourceType: "script" });
  } catch (e) {
    return { code, flash, lineStarts, byLoc, loops: [] };
  }
  const loops: Script["loops"] = [];
  const patNames = (p: any, out: string[]): void => {
    if (!p) return;
    if (p.type === "Identifier") out.push(p.name);
    else if (p.type === "AssignmentPattern") patNames(p.left, out);
    else if (p.type === "RestElement") patNames(p.argument, out);
    else if (p.type === "ArrayPattern") for (const e of p.elements) patNames(e, out);
    else if (p.type === "ObjectPattern") for (const pr of p.properties) patNames(pr.value || pr.argument, out);
  };
  // Walk by hand: each node with the innermost function around it.
  const visit = (node: any, parent: any, fn: FnNode | null): void => {
    if (!node || typeof node.type !== "string") return;
    let here = fn;
    if (node.type === "FunctionExpression" || node.type === "FunctionDeclaration" || node.type === "ArrowFunctionExpression") {
      const params: string[] = [];
      for (const p of node.params) patNames(p, params);
      const body = node.body;
      const codeLen = body.type === "BlockStatement" ? Math.max(0, body.end - body.start - 2) : body.end - body.start;
      // transform.ts turns `function f(){}` into `var f = function f(){}`: a declaration keeps no name
      const declLike = parent && parent.type === "VariableDeclarator" && parent.id && node.id && parent.id.name === node.id.name;
      const f: FnNode = {
        id: nextFnId++,
        params,
        locals: params.slice(),
        chain: fn ? [fn].concat(fn.chain) : [],
        codeLen,
        named: node.type === "FunctionExpression" && node.id && !declLike ? node.id.name : null,
        start: node.start,
        end: node.end,
      };
      const loc = node.type === "ArrowFunctionExpression" ? node.start : code.indexOf("(", node.id ? node.id.end : node.start);
      byLoc.set(loc, f);
      if (node.type === "FunctionDeclaration" && node.id && fn) fn.locals.push(node.id.name);
      here = f;
    } else if (node.type === "VariableDeclaration" && fn) {
      for (const d of node.declarations) patNames(d.id, fn.locals);
    }
    if (node.type === "ForStatement") loops.push({ start: node.init ? node.init.end : node.start, end: node.end, fn: fn });
    else if (node.type === "WhileStatement" || node.type === "DoWhileStatement") loops.push({ start: node.start, end: node.end, fn: fn });
    else if (node.type === "ForInStatement" || node.type === "ForOfStatement") loops.push({ start: node.right.end, end: node.end, fn: fn });
    for (const k of Object.keys(node)) {
      if (k === "type" || k === "start" || k === "end") continue;
      const v = node[k];
      if (Array.isArray(v)) for (const c of v) visit(c, node, here);
      else if (v && typeof v === "object" && typeof v.type === "string") visit(v, node, here);
    }
  };
  visit(ast, null, null);
  for (const f of byLoc.values()) f.locals = Array.from(new Set(f.locals));
  return { code, flash, lineStarts, byLoc, loops };
}

/** The scripts a device compiled (Storage files and REPL lines), to find where a function came from. */
export class SourceIndex {
  private scripts: Script[] = [];
  private known = new Map<string, Script>();
  private repl: Script[] = [];
  private byName = new Map<string, Script>();

  /**
   * Registers code V8 is about to compile; `flash`: parsed from a Storage file (code stays in flash), `name`:
   * that file's name (V8's filename for it).
   */
  add(code: string, flash: boolean, name?: string): void {
    const key = (flash ? "F" : "R") + code;
    const had = this.known.get(key);
    if (had) {
      if (name) this.byName.set(name, had);
      return;
    }
    const s = indexScript(code, flash);
    this.known.set(key, s);
    if (name) this.byName.set(name, s);
    if (flash) this.scripts.push(s);
    else {
      this.repl.push(s);
      if (this.repl.length > 100) this.known.delete("R" + this.repl.shift()!.code);
    }
  }

  /**
   * Is a V8 stack position (1-based line and column in the file's compiled code) inside a loop of the function
   * that is running there (not a loop around the definition of a function called later)?
   */
  inLoop(name: string, line: number, col: number): boolean {
    const s = this.byName.get(name);
    if (!s || line < 1 || line > s.lineStarts.length) return false;
    const off = s.lineStarts[line - 1] + col - 1;
    let inner: FnNode | null = null;
    for (const f of s.byLoc.values()) if (f.start <= off && off < f.end && (!inner || f.start > inner.start)) inner = f;
    return s.loops.some((l) => l.start <= off && off < l.end && l.fn === inner);
  }

  find(line: number, col: number, text: string): { node: FnNode; flash: boolean } | undefined {
    for (const list of [this.scripts, this.repl]) {
      for (let i = list.length - 1; i >= 0; i--) {
        const s = list[i];
        if (line >= s.lineStarts.length) continue;
        const f = s.byLoc.get(s.lineStarts[line] + col);
        if (f && text.endsWith(s.code.substring(f.start, f.end).replace(/^[^(]*(?=\()/, ""))) return { node: f, flash: s.flash };
      }
    }
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------- inspector

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

interface FnInspect {
  line: number;
  col: number;
  /** Closure/Block/Script scopes, innermost first: V8's name for it and a copy of its variables. */
  scopes: { kind: string; fn: string | null; vars: object }[];
}

/** [[FunctionLocation]] and the materialised [[Scopes]] of a function, or null without the inspector. */
function inspectFn(fn: Function): FnInspect | null {
  if (sessionFailed) return null;
  try {
    if (!session) {
      session = new inspector.Session();
      session.connect();
    }
    const g = globalThis as any;
    g[PROBE] = fn;
    const ev = post("Runtime.evaluate", { expression: "globalThis." + PROBE, objectGroup: "hwtotp-heap" });
    const props = post("Runtime.getProperties", { objectId: ev.result.objectId, ownProperties: true });
    const internal = props.internalProperties || [];
    const loc = internal.find((p: any) => p.name === "[[FunctionLocation]]");
    const out: FnInspect = { line: loc ? loc.value.value.lineNumber : -1, col: loc ? loc.value.value.columnNumber : -1, scopes: [] };
    const sc = internal.find((p: any) => p.name === "[[Scopes]]");
    if (sc && sc.value && sc.value.objectId) {
      const list = post("Runtime.getProperties", { objectId: sc.value.objectId, ownProperties: true });
      for (const item of list.result) {
        if (!item.value || !item.value.objectId) continue;
        const d: string = item.value.description || "";
        const m = /^(Closure|Block|Script|Local)(?: \((.*)\))?$/.exec(d);
        if (!m) continue;
        post("Runtime.callFunctionOn", {
          objectId: item.value.objectId,
          functionDeclaration: "function(){ globalThis." + OUT + " = this; }",
          objectGroup: "hwtotp-heap",
        });
        const o = g[OUT];
        if (o && o.object) out.scopes.push({ kind: m[1], fn: m[2] || null, vars: o.object });
      }
    }
    post("Runtime.releaseObjectGroup", { objectGroup: "hwtotp-heap" });
    g[PROBE] = undefined;
    g[OUT] = undefined;
    return out;
  } catch (e) {
    sessionFailed = true;
    return null;
  }
}

// ------------------------------------------------------------------------------------------- the walk

export interface HeapWalkOptions {
  /** Objects never counted nor walked (the interpreter's built-ins). */
  builtins: WeakSet<object>;
  /** Strings that live in flash (read from Storage): 1 block each. */
  flashStrings: Set<string>;
  /** Walk closure scopes through the inspector (slower, more complete). */
  closures: boolean;
  /** Function.prototype of the program's realm: functions of any other realm (the emulator's own) are skipped. */
  functionProto?: object;
  /** Block geometry of the board (default: 16-byte blocks). */
  layout?: Layout;
  /** Where the program's functions were compiled from. */
  sources?: SourceIndex;
  /** ArrayBuffers the API made (their data is a flat string). */
  apiBuffers?: WeakSet<object>;
  /** ArrayBuffers over an existing string (E.toArrayBuffer): that string's blocks. */
  backing?: WeakMap<object, number>;
  /** Prototypes a plain object or array has without a "__proto__" child. */
  defaultProtos?: object[];
  /** Objects not counted (held already: the last full walk's). */
  skip?: WeakSet<object>;
  /** Filled with every object counted. */
  seenOut?: WeakSet<object>;
  /** Debugging: blocks per category (function, code, param, scope, name, value, object, buffer…). */
  tally?: Record<string, number>;
}

/** Blocks used by everything reachable from `roots` (each object counted once). */
export function countBlocks(roots: unknown[], opts: HeapWalkOptions): number {
  const L = opts.layout || DEFAULT_LAYOUT;
  const seen = opts.seenOut || new WeakSet<object>();
  const scopeKeys = new Set<string>();
  const ids = new WeakMap<object, number>();
  let nextId = 1;
  let total = 0;
  const stack: unknown[] = roots.slice();
  const tally = opts.tally;
  const t = (cat: string, n: number): number => {
    if (tally && n) tally[cat] = (tally[cat] || 0) + n;
    return n;
  };

  /** A value's own blocks (objects are pushed to be walked); `intName`: it sits under an integer name. */
  function valueBlocks(v: unknown, intName: boolean): number {
    if (v === undefined) return 0;
    if (v === null) return 1;
    if (typeof v === "boolean") return intName ? 0 : 1;
    if (typeof v === "number") return (v | 0) === v && v >= L.intMin && v <= L.intMax ? 0 : 1;
    if (typeof v === "string") return opts.flashStrings.has(v) ? 1 : stringBlocks(v.length, L);
    if (typeof v === "object" || typeof v === "function") {
      stack.push(v);
      return 0;
    }
    return 1;
  }

  function keyBlocks(k: string, isArray: boolean): number {
    return isArray && /^(0|[1-9]\d*)$/.test(k) ? 1 : nameBlocks(k.length, L);
  }

  function idOf(o: object): number {
    let id = ids.get(o);
    if (!id) {
      id = nextId++;
      ids.set(o, id);
    }
    return id;
  }

  function sig(vars: object): string {
    return Object.keys(vars)
      .map((k) => {
        const x = (vars as any)[k];
        return (
          k +
          "=" +
          (x !== null && (typeof x === "object" || typeof x === "function") ? "#" + idOf(x) : typeof x + ":" + String(x).slice(0, 24))
        );
      })
      .join(",");
  }

  /** An execution scope kept alive: its variables from V8 (when captured) and the rest of its locals by name. */
  function scopeBlocks(key: string, locals: string[], vars: object | null, container: boolean): number {
    if (scopeKeys.has(key)) return 0;
    scopeKeys.add(key);
    let n = t("scope", container ? 1 : 0);
    const have = vars ? Object.keys(vars) : [];
    const names = new Set(locals.concat(have));
    for (const k of names)
      n +=
        t("scope name", nameBlocks(k.length, L)) +
        t(
          vars && have.indexOf(k) >= 0 ? "value" : "scope uncaptured",
          vars && have.indexOf(k) >= 0 ? valueBlocks((vars as any)[k], false) : 0,
        );
    return n;
  }

  function functionBlocks(f: Function): number {
    let n = 1 + 1; // the function and its "\xFFcod" name
    const info = opts.closures ? inspectFn(f) : null;
    let text = "";
    try {
      text = Function.prototype.toString.call(f);
    } catch (e) {
      /* not ours */
    }
    const found = info && opts.sources ? opts.sources.find(info.line, info.col, text) : undefined;
    if (found) {
      const node = found.node;
      n += t("code", found.flash ? 1 : stringBlocks(node.codeLen, L));
      for (const p of node.params) n += t("param", nameBlocks(1 + p.length, L));
      const depth = node.chain.length;
      if (depth >= 1) n += t("sco", 1 + (depth >= 2 ? 1 + depth : 0));
      if (node.named) n += t("nam", 1 + stringBlocks(node.named.length, L));
      // Scopes of the enclosing functions: V8's (innermost first) matched to the source's chain by their names.
      let ci = 0;
      const matched = new Map<number, object>();
      for (const s of info!.scopes) {
        if (s.kind === "Script") {
          total += scopeBlocks("script:" + sig(s.vars), [], s.vars, false);
          continue;
        }
        const keys = Object.keys(s.vars);
        let at = ci;
        while (at < node.chain.length && !keys.every((k) => node.chain[at].locals.indexOf(k) >= 0)) at++;
        if (at >= node.chain.length) {
          total += scopeBlocks("v8:" + sig(s.vars), [], s.vars, s.kind === "Closure"); // a scope the source does not explain
          continue;
        }
        const prev = matched.get(node.chain[at].id);
        matched.set(node.chain[at].id, prev ? Object.assign({}, prev, s.vars) : s.vars);
        if (s.kind === "Closure") ci = at + 1;
      }
      for (const e of node.chain) {
        const vars = matched.get(e.id) || null;
        total += scopeBlocks("fn" + e.id + ":" + (vars ? sig(vars) : "-"), e.locals, vars, true);
      }
    } else {
      // Made by eval/new Function, or not found: its text in RAM, its parameters from its length.
      n += t(
        "unknown fn",
        stringBlocks(Math.max(0, text.length - 14), L) + f.length + (info && info.scopes.some((s) => s.kind === "Closure") ? 1 : 0),
      );
      if (info)
        for (const s of info.scopes)
          total += scopeBlocks((s.kind === "Script" ? "script:" : "v8:") + sig(s.vars), [], s.vars, s.kind === "Closure");
    }
    return n;
  }

  while (stack.length) {
    const v = stack.pop();
    if (v === null || (typeof v !== "object" && typeof v !== "function")) {
      total += t("value", valueBlocks(v, false));
      continue;
    }
    const o = v as object;
    if (seen.has(o) || opts.builtins.has(o) || (opts.skip && opts.skip.has(o))) continue;
    seen.add(o);
    if (ArrayBuffer.isView(o)) {
      total += t("buffer", 1); // the view; its buffer is walked (and counted) once
      stack.push((o as Uint8Array).buffer);
      continue;
    }
    if (Object.prototype.toString.call(o) === "[object ArrayBuffer]") {
      const len = (o as ArrayBuffer).byteLength;
      const over = opts.backing ? opts.backing.get(o) : undefined;
      total += t("buffer", 1 + (over !== undefined ? over : bufferBlocks(len, !!(opts.apiBuffers && opts.apiBuffers.has(o)), L)));
      continue;
    }
    if (typeof o === "function" && opts.functionProto && Object.getPrototypeOf(o) !== opts.functionProto) {
      let p = Object.getPrototypeOf(o);
      while (p && p !== opts.functionProto) p = Object.getPrototypeOf(p);
      if (!p) continue;
    }
    if (typeof o === "function") {
      const fb = functionBlocks(o as Function); // adds the scopes it keeps to total itself: not `total += f()`
      total += t("function", 2) + fb - 2;
    } else total += t("object", 1);
    let keys: string[];
    try {
      keys = Object.keys(o);
    } catch (e) {
      continue;
    }
    const isArray = Array.isArray(o);
    for (const k of keys) {
      let x: unknown;
      try {
        const d = Object.getOwnPropertyDescriptor(o, k);
        x = d && "value" in d ? d.value : undefined;
      } catch (e) {
        x = undefined;
      }
      const intName = isArray && /^(0|[1-9]\d*)$/.test(k);
      total += t("name", keyBlocks(k, isArray)) + t("value", valueBlocks(x, intName));
    }
    if (typeof o === "function") {
      // A prototype object exists on the device once the program used it (added to it or made instances).
      const proto = (o as any).prototype;
      if (proto && typeof proto === "object" && !opts.builtins.has(proto) && Object.keys(proto).length) {
        total += t("proto", nameBlocks(9, L));
        stack.push(proto);
      }
      continue;
    }
    const proto = Object.getPrototypeOf(o);
    if (proto && !(opts.defaultProtos && opts.defaultProtos.indexOf(proto) >= 0)) {
      total += t("proto", nameBlocks(9, L)); // a "__proto__" child (new C(), Object.create(p), instances of built-in classes)
      if (!opts.builtins.has(proto)) stack.push(proto);
    }
  }
  return total;
}
