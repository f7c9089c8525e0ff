// The Espruino gate: static checks on ES5 JavaScript for what the real Espruino 2v29 interpreter rejects or
// silently mis-runs (see docs/facts/espruino.md). gate(source, filename) → [{rule, line, col, message}].
//
// Rules (each finding names one):
//   syntax             not ES5 (acorn, ecmaVersion 5)
//   use-before-define  Espruino does not hoist: a function declared later in the same scope, read or called
//                      (directly, or through functions and IIFEs that run at that point) before its
//                      declaration executes; a var read before its declaration in the same function
//   prototype-read     a method read off a built-in's prototype (Array.prototype.slice is undefined)
//   label              labelled statements, break/continue to a label
//   global             an undeclared name not on the allowlist of Espruino globals (typeof x is allowed)
//   missing-builtin    a static member of a built-in that Espruino lacks (Array.from, Math.trunc, …), or a
//                      method call Espruino lacks on any receiver (.finally, .flat, .lastIndexOf, …)
//   regex              a regex (literal or RegExp("…")) using what Espruino's engine lacks: {n}, ?, look-around,
//                      (?:…), quantified groups, | inside a group, \b, backreferences, flags other than g/i
//   arraybuffer-index  indexing or .length straight on a crypto hash / readArrayBuffer result (wrap it)
//   shift-width        a shift by 32 or more (counts are mod 32: x >> 32 === x)
//   error-name         reading .name of a caught error (undefined for Espruino's internal errors)
//   non-ascii          a non-ASCII character in a string or regex (strings are 8-bit on Pico/Puck.js)
//   typed-array-slice  .slice()/.filter() on a typed array (a plain Array on Espruino): use subarray/a loop
//   unbraced-try       `if (c) try {…} catch …` without braces (Espruino issue #1439 ran the catch of a skipped try)
//   pin-truthiness     a pin constant (BTN, LED1, D0, …) tested for truth: pin number 0 was false on older builds
//   json-typed-array   JSON.stringify of a typed array (Espruino and Node disagree on the output)
//   with               `with` statements (scope analysis and Espruino both give up on them)
import * as acorn from "acorn";

import * as FACTS from "../espruino-facts.mjs";

/** The one facts table the gate reads (test/firmware/build/facts-shared.test.ts: the emulator's realm reads the same). */
export { FACTS };

/** Globals the firmware may use, static members per built-in, method names Espruino lacks: ../espruino-facts.mjs. */
export const GLOBALS = new Set(FACTS.GLOBALS);
export const STATIC_MEMBERS = FACTS.STATIC_MEMBERS;
export const MISSING_METHODS = new Set(FACTS.MISSING_METHODS);

const PROTO_BUILTINS = new Set([
  "Array",
  "Object",
  "String",
  "Number",
  "Boolean",
  "Function",
  "Error",
  "Promise",
  "RegExp",
  "Date",
  "ArrayBuffer",
  "DataView",
  ...FACTS.TYPED_ARRAYS,
  "TypeError",
  "RangeError",
]);

/** Board pin constants (BTN, BTN1, LED1, D0, A0, …): their truth value depends on the pin number. */
const PIN_NAME = /^(BTN\d?|LED\d|[A-H]\d{1,2})$/;

const TYPED_ARRAYS = new Set(FACTS.TYPED_ARRAYS);

const HASH_RESULTS = new Set(["SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "readArrayBuffer"]);

/**
 * What Espruino's regex engine (src/jswrap_regexp.c) lacks or reads differently. It knows . [] [^] ^ $ ( ) and
 * `*`/`+` after one character or class, `|` at the top level, \d\D\s\S\w\W\f\n\r\t\v\0\xHH and the flags g, i.
 * Anything else quietly matches something else: `a?` matches "a?", `(ab)+` a literal "+", `\b` a backspace.
 */
function badRegex(pattern, flags) {
  if (/(^|[^\\])\{\d+(,\d*)?\}/.test(pattern)) return "a {n} quantifier";
  if (/\(\?(=|!|<=|<!)/.test(pattern)) return "look-around";
  const badFlag = (flags || "").replace(/[gi]/g, "");
  if (badFlag) return "the flag " + badFlag.charAt(0) + " (only g and i are honoured)";
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === "\\") {
      const n = pattern.charAt(i + 1);
      if (n === "b" || n === "B") return "\\" + n + " (a backspace or a literal " + n + ", not a word boundary)";
      if (n >= "1" && n <= "9") return "a backreference";
      if ("ucpPk".indexOf(n) >= 0) return "the escape \\" + n;
      i++;
    } else if (c === "[") {
      for (i++; i < pattern.length && pattern.charAt(i) !== "]"; i++) if (pattern.charAt(i) === "\\") i++;
    } else if (c === "(") {
      if (pattern.charAt(i + 1) === "?") return "a (?…) group";
      depth++;
    } else if (c === ")") {
      depth--;
      if ("*+?{".indexOf(pattern.charAt(i + 1)) >= 0 && pattern.charAt(i + 1) !== "") return "a quantifier on a group";
    } else if (c === "|" && depth > 0) {
      return "| inside a group";
    } else if (c === "?") {
      return "the ? quantifier";
    }
  }
  return null;
}

function isNode(x) {
  return x !== null && typeof x === "object" && typeof x.type === "string";
}

function children(node) {
  const out = [];
  for (const k in node) {
    if (k === "loc" || k === "type" || k === "start" || k === "end" || k === "regex") continue;
    const v = node[k];
    if (Array.isArray(v)) {
      for (const x of v) if (isNode(x)) out.push(x);
    } else if (isNode(v)) out.push(v);
  }
  return out;
}

class Scope {
  constructor(node, parent, isFunction) {
    this.node = node;
    this.parent = parent;
    this.isFunction = isFunction;
    this.decls = new Map(); // name → {kind, pos, index}
    this.typed = new Set(); // vars initialised with new <TypedArray>(…)
  }
  fnScope() {
    let s = this;
    while (!s.isFunction) s = s.parent;
    return s;
  }
  declare(name, kind, pos, index) {
    if (!this.decls.has(name)) this.decls.set(name, { kind, pos, index });
    else if (kind === "function") this.decls.set(name, { kind, pos, index });
  }
  resolve(name) {
    for (let s = this; s; s = s.parent) if (s.decls.has(name)) return s;
    return null;
  }
}

function isNewTyped(n) {
  return n.type === "NewExpression" && n.callee.type === "Identifier" && TYPED_ARRAYS.has(n.callee.name);
}

function isIIFE(fn, parent) {
  if (!parent) return false;
  if (parent.type === "CallExpression" && parent.callee === fn) return true;
  if (
    parent.type === "MemberExpression" &&
    parent.object === fn &&
    !parent.computed &&
    (parent.property.name === "call" || parent.property.name === "apply")
  )
    return true;
  return false;
}

export function gate(source, filename = "<input>") {
  const findings = [];
  const add = (rule, node, message) => {
    const loc = node && node.loc ? node.loc.start : { line: 0, column: 0 };
    findings.push({ rule, line: loc.line, col: loc.column + 1, message });
  };

  let ast;
  try {
    ast = acorn.parse(source, { ecmaVersion: 5, sourceType: "script", locations: true, sourceFile: filename });
  } catch (e) {
    const err = /** @type {SyntaxError & { loc?: { line: number, column: number } }} */ (e);
    const loc = err.loc || { line: 0, column: 0 };
    return [{ rule: "syntax", line: loc.line, col: loc.column + 1, message: "Not ES5: " + err.message.replace(/ \(\d+:\d+\)$/, "") }];
  }

  // Pass 1: scopes and declarations. Function scopes hold vars, function declarations and params;
  // catch clauses get a scope of their own for their parameter.
  const scopeOf = new Map();
  const programScope = new Scope(ast, null, true);
  scopeOf.set(ast, programScope);
  function declarePass(node, scope, topIndex) {
    if (node.type === "FunctionDeclaration" || node.type === "FunctionExpression") {
      if (node.type === "FunctionDeclaration") {
        const idx = node === scope.fnScope().node.__top?.[topIndex] ? topIndex : -1;
        scope.fnScope().declare(node.id.name, "function", node.start, idx);
      }
      const fs = new Scope(node, scope, true);
      scopeOf.set(node, fs);
      if (node.type === "FunctionExpression" && node.id) fs.declare(node.id.name, "fname", -1, -1);
      for (const p of node.params) fs.declare(p.name, "param", -1, -1);
      fs.declare("arguments", "param", -1, -1);
      const body = node.body.body;
      node.__top = body;
      for (let i = 0; i < body.length; i++) declarePass(body[i], fs, i);
      return;
    }
    if (node.type === "CatchClause") {
      const cs = new Scope(node, scope, false);
      scopeOf.set(node, cs);
      cs.declare(node.param.name, "catch", -1, -1);
      declarePass(node.body, cs, topIndex);
      return;
    }
    if (node.type === "VariableDeclarator") {
      scope.fnScope().declare(node.id.name, "var", node.start, -1);
      if (node.init && isNewTyped(node.init)) scope.fnScope().typed.add(node.id.name);
    }
    for (const ch of children(node)) declarePass(ch, scope, topIndex);
  }
  /** @type {any} */ (ast).__top = ast.body;
  for (let i = 0; i < ast.body.length; i++) declarePass(ast.body[i], programScope, i);

  // Pass 2: references, with the chain of functions between a reference and the scope it resolves to.
  const refs = []; // {name, node, scope (resolved), fns: [function nodes inside scope], top, isCallee}
  const frames = []; // {fn, scope, top}
  function checkPinTest(expr, scope) {
    if (expr && expr.type === "Identifier" && PIN_NAME.test(expr.name) && isGlobalRef(expr, scope)) {
      add(
        "pin-truthiness",
        expr,
        "Pin " +
          expr.name +
          ' tested for truth: a pin numbered 0 (Puck.js BTN is D0) is false on Espruino builds before the fix; compare typeof … !== "undefined" instead.',
      );
    }
  }

  function visit(node, scope, parent, ctx) {
    if (
      node.type === "IfStatement" ||
      node.type === "ConditionalExpression" ||
      node.type === "WhileStatement" ||
      node.type === "DoWhileStatement" ||
      node.type === "ForStatement"
    )
      checkPinTest(node.test, scope);
    else if (node.type === "LogicalExpression") {
      checkPinTest(node.left, scope);
      checkPinTest(node.right, scope);
    } else if (node.type === "UnaryExpression" && node.operator === "!") checkPinTest(node.argument, scope);
    switch (node.type) {
      case "FunctionDeclaration":
      case "FunctionExpression": {
        const fs = scopeOf.get(node);
        node.__iife = node.type === "FunctionExpression" && isIIFE(node, parent);
        frames.push({ fn: node, scope: fs, top: -1 });
        const body = node.body.body;
        for (let i = 0; i < body.length; i++) {
          frames[frames.length - 1].top = i;
          visit(body[i], fs, node.body, {});
        }
        frames.pop();
        return;
      }
      case "CatchClause": {
        const cs = scopeOf.get(node);
        visit(node.body, cs, node, {});
        return;
      }
      case "Identifier": {
        const name = node.name;
        const res = scope.resolve(name);
        if (!res) {
          if (!GLOBALS.has(name) && !ctx.typeofArg)
            add(
              "global",
              node,
              "Global " +
                name +
                " is not an Espruino global (allowlist in firmware/espruino-facts.mjs)" +
                (ctx.write ? "; assigning it creates an implicit global" : "") +
                ".",
            );
          return;
        }
        const resFrame = frames.findIndex((f) => f.scope === res.fnScope());
        const fnsInside = frames.slice(resFrame + 1).map((f) => f.fn);
        const top = resFrame >= 0 ? frames[resFrame].top : -1;
        refs.push({ name, node, scope: res, fns: fnsInside, top, isCallee: !!ctx.callee, isWrite: !!ctx.write, pos: node.start });
        return;
      }
      case "VariableDeclarator":
        if (node.init) visit(node.init, scope, node, {});
        return;
      case "LabeledStatement":
        add("label", node, "Labels (" + node.label.name + ":) are not supported by Espruino.");
        visit(node.body, scope, node, {});
        return;
      case "BreakStatement":
      case "ContinueStatement":
        if (node.label)
          add("label", node, "Labelled " + (node.type === "BreakStatement" ? "break" : "continue") + " is not supported by Espruino.");
        return;
      case "IfStatement":
        for (const b of [node.consequent, node.alternate]) {
          if (b && b.type === "TryStatement")
            add("unbraced-try", b, "A try directly under if/else without braces: wrap it in { } (Espruino issue #1439).");
        }
        break;
      case "WithStatement":
        add("with", node, "`with` is not supported.");
        break;
      case "MemberExpression": {
        checkMember(node, scope, parent);
        visit(node.object, scope, node, {});
        if (node.computed) visit(node.property, scope, node, {});
        return;
      }
      case "Property":
        if (node.computed) visit(node.key, scope, node, {});
        visit(node.value, scope, node, {});
        return;
      case "UnaryExpression":
        visit(node.argument, scope, node, { typeofArg: node.operator === "typeof" && node.argument.type === "Identifier" });
        return;
      case "AssignmentExpression":
        visit(node.left, scope, node, { write: node.operator === "=" });
        visit(node.right, scope, node, {});
        return;
      case "UpdateExpression":
        visit(node.argument, scope, node, {});
        return;
      case "ForInStatement":
        if (node.left.type === "VariableDeclaration") visit(node.left, scope, node, {});
        else visit(node.left, scope, node, { write: true });
        visit(node.right, scope, node, {});
        visit(node.body, scope, node, {});
        return;
      case "CallExpression":
      case "NewExpression": {
        checkCall(node, scope);
        visit(node.callee, scope, node, { callee: true });
        for (const a of node.arguments) visit(a, scope, node, {});
        return;
      }
      case "Literal":
        checkLiteral(node);
        return;
      case "BinaryExpression":
        if (
          (node.operator === "<<" || node.operator === ">>" || node.operator === ">>>") &&
          node.right.type === "Literal" &&
          typeof node.right.value === "number" &&
          node.right.value >= 32
        ) {
          add(
            "shift-width",
            node,
            "Shift by " + node.right.value + ": counts are taken mod 32 (x " + node.operator + " 32 === x). Divide by 2^32 instead.",
          );
        }
        break;
      default:
        break;
    }
    for (const ch of children(node)) visit(ch, scope, node, {});
  }

  function isGlobalRef(id, scope) {
    return id.type === "Identifier" && !scope.resolve(id.name);
  }

  function checkMember(node, scope, parent) {
    const obj = node.object;
    const prop = !node.computed && node.property.type === "Identifier" ? node.property.name : null;
    const isCallee = parent && parent.type === "CallExpression" && parent.callee === node;
    const isAssignTarget = parent && parent.type === "AssignmentExpression" && parent.left === node;
    // X.prototype.y / X.prototype[k] for a built-in X
    if (
      obj.type === "MemberExpression" &&
      !obj.computed &&
      obj.property.name === "prototype" &&
      obj.object.type === "Identifier" &&
      PROTO_BUILTINS.has(obj.object.name) &&
      isGlobalRef(obj.object, scope) &&
      !isAssignTarget
    ) {
      add(
        "prototype-read",
        node,
        obj.object.name + ".prototype." + (prop || "[…]") + " is undefined on Espruino: use an instance ([].slice.call(x)).",
      );
    }
    // static members of built-ins
    if (prop && obj.type === "Identifier" && isGlobalRef(obj, scope) && Object.prototype.hasOwnProperty.call(STATIC_MEMBERS, obj.name)) {
      if (STATIC_MEMBERS[obj.name].indexOf(prop) < 0) add("missing-builtin", node, obj.name + "." + prop + " does not exist on Espruino.");
    }
    if (prop === "BYTES_PER_ELEMENT") add("missing-builtin", node, "BYTES_PER_ELEMENT is undefined on Espruino.");
    if ((prop === "slice" || prop === "filter") && isCallee) {
      const typed =
        isNewTyped(obj) || (obj.type === "Identifier" && scope.resolve(obj.name) && scope.resolve(obj.name).typed.has(obj.name));
      if (typed)
        add("typed-array-slice", node, "." + prop + "() of a typed array returns a plain Array on Espruino: use subarray() or a loop.");
    }
    if (prop && isCallee && MISSING_METHODS.has(prop)) add("missing-builtin", node, "." + prop + "() does not exist on Espruino.");
    // hashObj.SHA1(x)[i] / .length
    if (
      obj.type === "CallExpression" &&
      obj.callee.type === "MemberExpression" &&
      !obj.callee.computed &&
      HASH_RESULTS.has(obj.callee.property.name) &&
      (node.computed || prop === "length")
    ) {
      add("arraybuffer-index", node, obj.callee.property.name + "() returns an ArrayBuffer: wrap it in new Uint8Array(…) before indexing.");
    }
    // caughtError.name
    if (prop === "name" && obj.type === "Identifier") {
      const s = scope.resolve(obj.name);
      if (s && s.decls.get(obj.name).kind === "catch")
        add("error-name", node, "e.name is undefined for Espruino's internal errors; compare messages or use instanceof.");
    }
  }

  function checkCall(node, scope) {
    const c = node.callee;
    if (
      c.type === "MemberExpression" &&
      !c.computed &&
      c.object.type === "Identifier" &&
      c.object.name === "JSON" &&
      c.property.name === "stringify" &&
      isGlobalRef(c.object, scope) &&
      node.arguments[0]
    ) {
      const a = node.arguments[0];
      const typed = isNewTyped(a) || (a.type === "Identifier" && scope.resolve(a.name) && scope.resolve(a.name).typed.has(a.name));
      if (typed)
        add(
          "json-typed-array",
          node,
          'JSON.stringify of a typed array gives [1,2] on Espruino but {"0":1,…} in Node (and the emulator): convert it to a plain Array or hex first.',
        );
    }
    if (c.type === "Identifier" && c.name === "RegExp" && isGlobalRef(c, scope)) {
      const a = node.arguments[0];
      if (a && a.type === "Literal" && typeof a.value === "string") {
        const f = node.arguments[1];
        const why = badRegex(a.value, f && f.type === "Literal" && typeof f.value === "string" ? f.value : "");
        if (why) add("regex", node, "RegExp with " + why + " quietly fails to match on Espruino.");
      }
    }
  }

  function checkLiteral(node) {
    if (node.regex) {
      const why = badRegex(node.regex.pattern, node.regex.flags);
      if (why) add("regex", node, "Regex /" + node.regex.pattern + "/ uses " + why + ", which quietly fails to match on Espruino.");
    }
    const text = node.regex ? node.regex.pattern : typeof node.value === "string" ? node.value : "";
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) > 126) {
        add(
          "non-ascii",
          node,
          "Non-ASCII character U+" +
            text.charCodeAt(i).toString(16).toUpperCase().padStart(4, "0") +
            " in a literal: strings are 8-bit on Pico and Puck.js.",
        );
        break;
      }
    }
  }

  frames.push({ fn: ast, scope: programScope, top: -1 });
  for (let i = 0; i < ast.body.length; i++) {
    frames[0].top = i;
    visit(ast.body[i], programScope, ast, {});
  }
  frames.pop();

  // Pass 3: use before definition, per function scope, in the order its top-level statements execute.
  const byScope = new Map();
  for (const r of refs) {
    if (!byScope.has(r.scope)) byScope.set(r.scope, []);
    byScope.get(r.scope).push(r);
  }
  for (const [scope, list] of byScope) {
    if (!scope.isFunction) continue;
    // refs that run when the function named g (declared in this scope) is called
    const bodyRefs = new Map();
    for (const r of list) {
      if (r.fns.length === 0) continue;
      const outer = r.fns[0];
      if (outer.type !== "FunctionDeclaration" || scope.decls.get(outer.id.name)?.kind !== "function") continue;
      if (!r.fns.slice(1).every((f) => f.__iife)) continue;
      if (!bodyRefs.has(outer.id.name)) bodyRefs.set(outer.id.name, []);
      bodyRefs.get(outer.id.name).push(r);
    }
    const reported = new Set();
    for (const r of list) {
      if (!r.fns.every((f) => f.__iife)) continue; // not run at this point
      const d = scope.decls.get(r.name);
      if (!d) continue;
      if (d.kind === "var" && r.fns.length === 0 && r.pos < d.pos && !r.isWrite) {
        add("use-before-define", r.node, "var " + r.name + " is read before its declaration (Espruino does not hoist).");
        continue;
      }
      if (d.kind !== "function" || d.index < 0) continue;
      if (d.index > r.top) {
        add(
          "use-before-define",
          r.node,
          "Function " + r.name + " is used before its declaration (Espruino does not hoist function declarations).",
        );
        continue;
      }
      if (!r.isCallee) continue;
      // follow calls: g() runs g's body now; anything it calls that is declared after this statement fails
      const seen = new Set([r.name]);
      /** @type {Array<[string, string[]]>} */
      const work = [[r.name, [r.name]]];
      while (work.length) {
        const [g, path] = /** @type {[string, string[]]} */ (work.pop());
        for (const br of bodyRefs.get(g) || []) {
          const bd = scope.decls.get(br.name);
          if (!bd || bd.kind !== "function" || bd.index < 0) continue;
          if (bd.index > r.top) {
            const key = r.node.start + ":" + br.name;
            if (!reported.has(key)) {
              reported.add(key);
              add(
                "use-before-define",
                r.node,
                "Call of " +
                  path.join(" → ") +
                  " reaches " +
                  br.name +
                  ", declared later in the same scope (Espruino does not hoist function declarations).",
              );
            }
          } else if (br.isCallee && !seen.has(br.name)) {
            seen.add(br.name);
            work.push([br.name, path.concat(br.name)]);
          }
        }
      }
    }
  }

  findings.sort((a, b) => a.line - b.line || a.col - b.col);
  return findings;
}

/** Human form: file:line:col rule message. */
export function formatFindings(findings, filename) {
  return findings.map((f) => filename + ":" + f.line + ":" + f.col + " [" + f.rule + "] " + f.message).join("\n");
}

// CLI: node firmware/build/gate.mjs FILE… → findings as file:line:col [rule] message; exit 1 on any finding.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let bad = 0;
  for (const file of process.argv.slice(2)) {
    const f = gate(readFileSync(file, "utf8"), file);
    if (f.length) process.stderr.write(formatFindings(f, file) + "\n");
    bad += f.length;
  }
  process.exit(bad ? 1 : 0);
}
