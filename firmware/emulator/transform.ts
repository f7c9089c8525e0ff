// Source checks and rewrites applied to every script the emulated interpreter runs (Storage files, REPL lines),
// so that code behaves as on Espruino 2v29 rather than V8:
//  - syntax Espruino rejects (default/rest params, spread, destructuring, ?., **, computed keys, async/await,
//    generators, labels, tagged templates) is a SyntaxError at load time, as on the device;
//  - function declarations are not hoisted: `function f(){}` runs as `var f = function f(){};` where it stands;
//  - `for (let i …)` shares one binding across iterations (closures see the last value): `let` becomes `var`;
//  - Pin values (jsvar.c: integer-ish): a test (`if`/`while`/`for`/`?:`/`!`, through `&&`/`||`) of a name, member
//    or call result goes through __espruinoBool (a Pin is false when its number is 0: Puck.js BTN is D0), and
//    `typeof` through __espruinoTypeof ("number" for a Pin). A pin copied into an expression of another shape
//    (`x = BTN || y`) is not caught;
//  - bitwise operands (| & ^ << >> >>>, not literals or other bitwise results) go through __espruinoInt: a double
//    beyond ±2^63 becomes 0 as in jsvGetInteger (`1e20|0` is 0). Compound `x |= y` converts y only.
// (Static inheritance is cut in sandbox.ts for ES5 code; a native `class … extends` keeps it, as super() needs the link.)
import * as acorn from "acorn";
import * as walk from "acorn-walk";

interface Edit {
  at: number;
  del: number;
  text: string;
  rank: number; // at one position: earlier rank applied first, so it ends up after the later ones
}

function reject(node: acorn.Node, what: string, src: string): never {
  const before = src.substring(0, node.start);
  const line = before.split("\n").length;
  const err = new SyntaxError(what + " is not supported by Espruino (line " + line + ")");
  throw err;
}

/** Node types Espruino rejects outright, with the name the SyntaxError gives them. */
const UNSUPPORTED: { [type: string]: string } = {
  AssignmentPattern: "default parameter/destructuring default",
  RestElement: "rest parameter",
  SpreadElement: "spread",
  ObjectPattern: "destructuring",
  ArrayPattern: "destructuring",
  ChainExpression: "optional chaining (?.)",
  AwaitExpression: "await",
  YieldExpression: "yield",
  LabeledStatement: "label",
  TaggedTemplateExpression: "tagged template",
};

const cache = new Map<string, string>();

/** Returns the source to run in V8 for `src` as Espruino would run it; throws SyntaxError where Espruino does. */
export function espruinoSource(src: string): string {
  const hit = cache.get(src);
  if (hit !== undefined) return hit;
  let ast: acorn.Program;
  try {
    ast = acorn.parse(src, { ecmaVersion: "latest", sourceType: "script", allowReturnOutsideFunction: false });
  } catch (e) {
    throw new SyntaxError((e as Error).message);
  }
  const edits: Edit[] = [];
  const wrapped = new Set<string>();
  const wrap = (n: acorn.Node, fn: string): void => {
    const key = n.start + ":" + n.end + ":" + fn;
    if (wrapped.has(key)) return;
    wrapped.add(key);
    edits.push({ at: n.start, del: 0, text: fn + "(", rank: 0 });
    edits.push({ at: n.end, del: 0, text: ")", rank: 1 });
  };
  const test = (n: acorn.Node | null | undefined): void => {
    if (!n) return;
    if (n.type === "LogicalExpression") {
      test((n as acorn.LogicalExpression).left);
      test((n as acorn.LogicalExpression).right);
    } else if (
      (n.type === "Identifier" && (n as acorn.Identifier).name !== "undefined") ||
      n.type === "MemberExpression" ||
      n.type === "CallExpression"
    ) {
      wrap(n, "__espruinoBool");
    }
  };
  const BITWISE = new Set(["|", "&", "^", "<<", ">>", ">>>"]);
  const intOperand = (n: acorn.Node): void => {
    if (
      n.type === "Literal" &&
      !(typeof (n as acorn.Literal).value === "number" && Math.abs((n as acorn.Literal).value as number) >= 2 ** 63)
    )
      return;
    if (n.type === "UnaryExpression" && (n as acorn.UnaryExpression).operator === "~") return;
    if (n.type === "BinaryExpression" && BITWISE.has((n as acorn.BinaryExpression).operator)) return;
    if (
      n.type === "UnaryExpression" &&
      (n as acorn.UnaryExpression).operator === "-" &&
      (n as acorn.UnaryExpression).argument.type === "Literal"
    )
      return;
    wrap(n, "__espruinoInt");
  };
  const fnLike = (node: acorn.Node): void => {
    const f = node as acorn.Function;
    if (f.async) reject(node, "async function", src);
    if (f.generator) reject(node, "generator function", src);
  };
  walk.full(ast, (node) => {
    const banned = UNSUPPORTED[node.type];
    if (banned) reject(node, banned, src);
    switch (node.type) {
      case "BinaryExpression":
      case "AssignmentExpression": {
        const op = (node as acorn.BinaryExpression).operator as string;
        if (op === "**" || op === "**=") reject(node, "** operator", src);
        if (node.type === "BinaryExpression" && BITWISE.has(op)) {
          intOperand((node as acorn.BinaryExpression).left);
          intOperand((node as acorn.BinaryExpression).right);
        } else if (node.type === "AssignmentExpression" && BITWISE.has(op.slice(0, -1)))
          intOperand((node as acorn.AssignmentExpression).right);
        break;
      }
      case "IfStatement":
      case "WhileStatement":
      case "DoWhileStatement":
      case "ForStatement":
      case "ConditionalExpression":
        test((node as acorn.IfStatement).test);
        if (node.type === "ForStatement") {
          const init = (node as acorn.ForStatement).init;
          if (init && init.type === "VariableDeclaration" && init.kind === "let")
            edits.push({ at: init.start, del: 3, text: "var", rank: 0 });
        }
        break;
      case "UnaryExpression": {
        const u = node as acorn.UnaryExpression;
        if (u.operator === "!") test(u.argument);
        else if (u.operator === "typeof") {
          if (u.argument.type === "Identifier") {
            const name = (u.argument as acorn.Identifier).name;
            edits.push({
              at: u.start,
              del: u.end - u.start,
              text: "(typeof " + name + ' === "undefined" ? "undefined" : __espruinoTypeof(' + name + "))",
              rank: -1,
            });
          } else {
            edits.push({ at: u.start, del: 6, text: "__espruinoTypeof(", rank: -1 });
            edits.push({ at: u.end, del: 0, text: ")", rank: 1 });
          }
        }
        break;
      }
      case "Property":
      case "MethodDefinition":
      case "PropertyDefinition":
        if ((node as acorn.Property).computed) reject(node, "computed property key", src);
        break;
      case "FunctionDeclaration": {
        fnLike(node);
        const f = node as acorn.FunctionDeclaration;
        if (f.id) {
          edits.push({ at: f.start, del: 0, text: "var " + f.id.name + " = ", rank: 0 });
          edits.push({ at: f.end, del: 0, text: ";", rank: 1 });
        }
        break;
      }
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        fnLike(node);
        break;
      default:
        break;
    }
  });
  edits.sort((a, b) => b.at - a.at || a.rank - b.rank);
  let out = src;
  for (const e of edits) out = out.substring(0, e.at) + e.text + out.substring(e.at + e.del);
  if (cache.size > 200) cache.clear();
  cache.set(src, out);
  return out;
}
