// Source checks and rewrites applied to every script the emulated interpreter runs (Storage files, REPL lines),
// so that code behaves as on Espruino 2v29 rather than V8:
//  - syntax Espruino rejects (default/rest params, spread, destructuring, ?., **, computed keys, async/await,
//    generators, labels, tagged templates) is a SyntaxError at load time, as on the device;
//  - function declarations are not hoisted: `function f(){}` runs as `var f = function f(){};` where it stands;
//  - `for (let i …)` shares one binding across iterations (closures see the last value): `let` becomes `var`.
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
  const fnLike = (node: acorn.Node): void => {
    const f = node as acorn.Function;
    if (f.async) reject(node, "async function", src);
    if (f.generator) reject(node, "generator function", src);
  };
  walk.full(ast, (node) => {
    switch (node.type) {
      case "AssignmentPattern":
        reject(node, "default parameter/destructuring default", src);
        break;
      case "RestElement":
        reject(node, "rest parameter", src);
        break;
      case "SpreadElement":
        reject(node, "spread", src);
        break;
      case "ObjectPattern":
      case "ArrayPattern":
        reject(node, "destructuring", src);
        break;
      case "ChainExpression":
        reject(node, "optional chaining (?.)", src);
        break;
      case "BinaryExpression":
      case "AssignmentExpression":
        if ((node as acorn.BinaryExpression).operator === "**" || (node as acorn.AssignmentExpression).operator === "**=") reject(node, "** operator", src);
        break;
      case "Property":
      case "MethodDefinition":
      case "PropertyDefinition":
        if ((node as acorn.Property).computed) reject(node, "computed property key", src);
        break;
      case "AwaitExpression":
        reject(node, "await", src);
        break;
      case "YieldExpression":
        reject(node, "yield", src);
        break;
      case "LabeledStatement":
        reject(node, "label", src);
        break;
      case "TaggedTemplateExpression":
        reject(node, "tagged template", src);
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
      case "ForStatement": {
        const init = (node as acorn.ForStatement).init;
        if (init && init.type === "VariableDeclaration" && init.kind === "let") edits.push({ at: init.start, del: 3, text: "var", rank: 0 });
        break;
      }
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
