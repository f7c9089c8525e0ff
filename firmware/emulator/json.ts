// JSON.parse as Espruino 2v29 does it (src/jswrap_json.c jswrap_json_parse_internal on the JavaScript lexer,
// src/jslex.c), checked on the real Linux build (../shared/espruino, test/firmware/emulator/json.test.ts):
//  - the text is read by the JavaScript lexer: whitespace and comments are skipped, strings may use ', " or `
//    with JavaScript escapes (\x41, \u0041, \101 octal, \q is q; a raw newline ends it as UNFINISHED STRING),
//    numbers may be 0x10, 0b101, 0o17, 010 (octal), 1_000, .5, 1., 1.5e;
//  - trailing commas in arrays and objects are accepted, and anything after the first value is ignored;
//  - "-" must be followed by a number, else the whole parse gives undefined without an exception;
//  - a key that is not a string is an error ("Got ID:a expected STRING"), except in Storage.readJSON (liberal);
//  - duplicate keys: the first one is the one read (later ones are only visible to JSON.stringify and for-in on
//    the device; here they are dropped);
//  - "__proto__": the first one sets the object's prototype when its value is an object (an array gives a
//    prototype that yields nothing); any other value (null, a number, a string) leaves a prototype that is not an
//    object, and the next property lookup that misses, or any new property, trips an assertion in the
//    interpreter (src/jsvar.c jsvHasChildren(parent): the Linux build exits) — modelled as a device crash;
//  - "constructor": an own property, hidden from for-in and JSON.stringify (jsvIsInternalObjectKey) but listed
//    by Object.keys on the device; here non-enumerable, so Object.keys does not list it either;
//  - errors are SyntaxErrors with Espruino's messages ("Expecting valid value, got EOF", "Got ',' expected '}'").

export interface JsonRealm {
  newObject(): any;
  newArray(): any;
  syntaxError(message: string): Error;
  /** A prototype whose every lookup crashes the device (a non-object __proto__). */
  poison: object;
}

type Tok =
  | { t: "EOF" }
  | { t: "INT" | "FLOAT"; v: number }
  | { t: "STR"; v: string }
  | { t: "ID"; v: string }
  | { t: "RES"; v: string } // reserved word
  | { t: "OP"; v: string }
  | { t: "BAD"; v: string }; // UNFINISHED STRING, TEMPLATE LITERAL…

const RESERVED = new Set([
  "true",
  "false",
  "null",
  "undefined",
  "if",
  "else",
  "do",
  "while",
  "for",
  "break",
  "continue",
  "function",
  "return",
  "var",
  "let",
  "const",
  "this",
  "throw",
  "try",
  "catch",
  "finally",
  "switch",
  "case",
  "default",
  "typeof",
  "new",
  "in",
  "instanceof",
  "delete",
  "void",
  "class",
  "extends",
  "super",
  "static",
  "of",
  "debugger",
]);
const OPS = [
  "===",
  "!==",
  ">>>",
  "<<=",
  ">>=",
  "==",
  "!=",
  "<=",
  ">=",
  "<<",
  ">>",
  "&&",
  "||",
  "++",
  "--",
  "+=",
  "-=",
  "*=",
  "/=",
  "%=",
  "&=",
  "|=",
  "^=",
  "=>",
  "**",
  "??",
  "?.",
];

class Lexer {
  i = 0;
  tok: Tok = { t: "EOF" };
  constructor(readonly s: string) {
    this.next();
  }

  private skip(): boolean {
    const s = this.s;
    for (;;) {
      while (this.i < s.length && s.charCodeAt(this.i) <= 32) this.i++;
      if (s[this.i] === "/" && s[this.i + 1] === "/") {
        while (this.i < s.length && s[this.i] !== "\n") this.i++;
      } else if (s[this.i] === "/" && s[this.i + 1] === "*") {
        const end = s.indexOf("*/", this.i + 2);
        if (end < 0) {
          this.i = s.length;
          return false;
        }
        this.i = end + 2;
      } else return true;
    }
  }

  next(): void {
    const s = this.s;
    if (!this.skip()) {
      this.tok = { t: "BAD", v: "UNFINISHED COMMENT" };
      return;
    }
    if (this.i >= s.length) {
      this.tok = { t: "EOF" };
      return;
    }
    const c = s[this.i];
    if (/[A-Za-z_$]/.test(c)) {
      let j = this.i + 1;
      while (j < s.length && /[A-Za-z0-9_$]/.test(s[j])) j++;
      const w = s.substring(this.i, j);
      this.i = j;
      this.tok = RESERVED.has(w) ? { t: "RES", v: w } : { t: "ID", v: w };
      return;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(s[this.i + 1] || ""))) {
      this.tok = this.number();
      return;
    }
    if (c === '"' || c === "'" || c === "`") {
      this.tok = this.string(c);
      return;
    }
    for (const op of OPS) {
      if (s.startsWith(op, this.i)) {
        this.i += op.length;
        this.tok = { t: "OP", v: op };
        return;
      }
    }
    this.i++;
    this.tok = { t: "OP", v: c };
  }

  private number(): Tok {
    const s = this.s;
    let j = this.i;
    const radix = (r: number, re: RegExp): Tok => {
      let k = j + 2;
      let v = 0;
      while (k < s.length && (re.test(s[k]) || s[k] === "_")) {
        if (s[k] !== "_") v = v * r + parseInt(s[k], r);
        k++;
      }
      this.i = k;
      return { t: "INT", v };
    };
    if (s[j] === "0" && /[xX]/.test(s[j + 1] || "")) return radix(16, /[0-9a-fA-F]/);
    if (s[j] === "0" && /[bB]/.test(s[j + 1] || "")) return radix(2, /[01]/);
    if (s[j] === "0" && /[oO]/.test(s[j + 1] || "")) return radix(8, /[0-7]/);
    if (s[j] === "0" && /[0-7]/.test(s[j + 1] || "")) {
      // legacy octal (010 is 8)
      let k = j + 1;
      let v = 0;
      while (k < s.length && /[0-7]/.test(s[k])) v = v * 8 + +s[k++];
      this.i = k;
      return { t: "INT", v };
    }
    let text = "";
    let float = false;
    while (j < s.length && /[0-9_]/.test(s[j])) {
      if (s[j] !== "_") text += s[j];
      j++;
    }
    if (s[j] === ".") {
      float = true;
      text += ".";
      j++;
      while (j < s.length && /[0-9_]/.test(s[j])) {
        if (s[j] !== "_") text += s[j];
        j++;
      }
    }
    if (s[j] === "e" || s[j] === "E") {
      float = true;
      j++;
      let exp = "";
      if (s[j] === "+" || s[j] === "-") exp += s[j++];
      while (j < s.length && /[0-9]/.test(s[j])) exp += s[j++];
      if (/[0-9]/.test(exp)) text += "e" + exp;
    }
    this.i = j;
    return { t: float ? "FLOAT" : "INT", v: parseFloat(text === "." ? "0" : text) };
  }

  private string(q: string): Tok {
    const s = this.s;
    let j = this.i + 1;
    let out = "";
    for (;;) {
      if (j >= s.length || (q !== "`" && s[j] === "\n")) {
        this.i = j;
        return { t: "BAD", v: q === "`" ? "UNFINISHED TEMPLATE LITERAL" : "UNFINISHED STRING" };
      }
      const c = s[j];
      if (c === q) break;
      if (q === "`" && c === "$" && s[j + 1] === "{") {
        const end = s.indexOf("`", j);
        this.i = end < 0 ? s.length : end + 1;
        return { t: "BAD", v: "TEMPLATE LITERAL" };
      }
      if (c !== "\\") {
        out += c;
        j++;
        continue;
      }
      const e = s[j + 1];
      j += 2;
      if (e === undefined) continue;
      if (e === "n") out += "\n";
      else if (e === "r") out += "\r";
      else if (e === "t") out += "\t";
      else if (e === "b") out += "\b";
      else if (e === "f") out += "\f";
      else if (e === "v") out += "\v";
      else if (e === "x") {
        out += String.fromCharCode(parseInt(s.substr(j, 2), 16) || 0);
        j += 2;
      } else if (e === "u") {
        out += String.fromCharCode(parseInt(s.substr(j, 4), 16) || 0);
        j += 4;
      } else if (/[0-7]/.test(e)) {
        let oct = e;
        while (oct.length < 3 && /[0-7]/.test(s[j] || "")) oct += s[j++];
        out += String.fromCharCode(parseInt(oct, 8) & 255);
      } else if (e === "\n") {
        /* line continuation */
      } else out += e;
    }
    this.i = j + 1;
    return { t: "STR", v: out };
  }
}

/** jslTokenAsString: how a token is named after "got". */
function tokName(t: Tok): string {
  switch (t.t) {
    case "EOF":
      return "EOF";
    case "INT":
      return "INT";
    case "FLOAT":
      return "FLOAT";
    case "STR":
      return "STRING";
    case "ID":
      return "ID";
    case "RES":
      return t.v;
    case "BAD":
      return t.v;
    case "OP":
      return t.v.length === 1 ? "'" + t.v + "'" : t.v;
  }
}

/** jslGetTokenString: as tokName, with the value of an identifier or string. */
function gotName(t: Tok): string {
  if (t.t === "ID") return "ID:" + t.v;
  if (t.t === "STR") return "String:'" + t.v + "'";
  return tokName(t);
}

class Fail extends Error {}

/**
 * Parses `text` as the device's JSON.parse (or, `liberal`, as Storage.readJSON: unquoted keys allowed). Returns
 * undefined where the device returns no value without an exception; throws realm.syntaxError(...) where it throws.
 */
export function espruinoJsonParse(text: string, realm: JsonRealm, liberal = false): unknown {
  const lex = new Lexer(text);
  let error: string | null = null;
  const expect = (what: string, name: string): boolean => {
    const t = lex.tok;
    const ok = what === "STR" ? t.t === "STR" : t.t === "OP" && t.v === what;
    if (ok) {
      lex.next();
      return true;
    }
    if (error === null) error = "Got " + gotName(t) + " expected " + name;
    lex.next();
    return false;
  };
  const isOp = (v: string): boolean => lex.tok.t === "OP" && (lex.tok as { v: string }).v === v;
  const value = (): unknown => {
    const t = lex.tok;
    if (t.t === "RES" && (t.v === "true" || t.v === "false" || t.v === "null")) {
      lex.next();
      return t.v === "true" ? true : t.v === "false" ? false : null;
    }
    if (t.t === "OP" && t.v === "-") {
      lex.next();
      const n = lex.tok;
      if (n.t !== "INT" && n.t !== "FLOAT") throw new Fail(); // no value, no exception
      lex.next();
      return 0 - n.v;
    }
    if (t.t === "INT" || t.t === "FLOAT" || t.t === "STR") {
      lex.next();
      return t.v;
    }
    if (t.t === "OP" && t.v === "[") {
      const arr = realm.newArray();
      lex.next();
      while (!isOp("]") && error === null) {
        const v = value();
        if (!isOp("]") && !expect(",", "','")) throw new Fail();
        arr.push(v);
      }
      if (!expect("]", "']'")) throw new Fail();
      return arr;
    }
    if (t.t === "OP" && t.v === "{") {
      const obj = realm.newObject();
      const seen = new Set<string>();
      let proto = false;
      lex.next();
      while ((lex.tok.t === "STR" || lex.tok.t === "INT" || lex.tok.t === "ID" || lex.tok.t === "RES") && error === null) {
        const kt = lex.tok;
        if (!liberal && kt.t !== "STR") {
          expect("STR", "STRING");
          throw new Fail();
        }
        const key = String((kt as { v: unknown }).v);
        lex.next();
        if (!expect(":", "':'")) throw new Fail();
        const v = value();
        if (!isOp("}") && !expect(",", "','")) throw new Fail();
        if (key === "__proto__") {
          if (proto) continue;
          proto = true;
          if (v !== null && typeof v === "object") Object.setPrototypeOf(obj, Array.isArray(v) ? realm.newObject() : v);
          else Object.setPrototypeOf(obj, realm.poison);
          continue;
        }
        if (seen.has(key)) continue; // the first of duplicate keys is the one read
        seen.add(key);
        if (key === "constructor") Object.defineProperty(obj, key, { value: v, writable: true, configurable: true, enumerable: false });
        else Object.defineProperty(obj, key, { value: v, writable: true, configurable: true, enumerable: true });
      }
      if (!expect("}", "'}'")) throw new Fail();
      return obj;
    }
    if (error === null) error = "Expecting valid value, got " + tokName(t);
    throw new Fail();
  };
  let result: unknown;
  try {
    result = value();
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    result = undefined;
  }
  if (error !== null) throw realm.syntaxError(error);
  return result;
}
