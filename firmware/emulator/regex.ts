// Espruino's own regular-expression matcher, ported from src/jswrap_regexp.c (espruino/Espruino, the 2v2x
// version with the `[.]` fix of issue #1948) so that the emulator matches, mis-matches and throws exactly where
// the device does. What that engine knows: literal chars, `.`, `[...]`/`[^...]` with ranges, escapes
// \d \D \s \S \w \W \f \b(backspace!) \n \r \t \v \0 \xHH (any other escaped char is itself), `^` and `$`,
// `*` and `+` after a single char or set (greedy), `(` `)` as capture markers (no quantifier on a group), and
// `|` that restarts the whole pattern at the same start index. Flags: only `i` and `g`.
// What it lacks, and what the port therefore does like the device: `?` is a literal char (so /colou?r/ does not
// match "color"), `{n}` is literal text, `(?=` `(?:` are a group start followed by a literal `?`, `\b` is a
// backspace not a word boundary, `\1`… throws "Backreferences not supported", an unclosed `[` throws
// "Unfinished character set in RegEx". Strings are matched char by char (code units).

const MAX_GROUPS = 9;
const NO_RANGE = 256;

interface Info {
  src: string;
  startIndex: number;
  ignoreCase: boolean;
  rangeMatch: boolean;
  rangeFirstChar: number;
  groups: number;
  groupStart: number[];
  groupEnd: number[];
}

export interface RegexMatch {
  /** [whole match, group 1, …] */
  parts: string[];
  index: number;
}

/** Thrown where the device raises `Error` from the matcher (jsExceptionHere(JSET_ERROR, …)). */
export class EspruinoRegexError extends Error {}

const isNumeric = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isWhitespace = (c: number): boolean => c === 9 || c === 11 || c === 12 || c === 32 || c === 10 || c === 13;
const lower = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);
const hexToByte = (a: string, b: string): number => (parseInt(a + b, 16) || 0) & 255;

function copy(i: Info): Info {
  return { ...i, groupStart: i.groupStart.slice(), groupEnd: i.groupEnd.slice() };
}

function found(pos: number, info: Info): RegexMatch {
  const parts = [info.src.substring(info.startIndex, pos)];
  for (let i = 0; i < info.groups; i++) parts.push(info.src.substring(info.groupStart[i], info.groupEnd[i]));
  return { parts: parts, index: info.startIndex };
}

// No match: look for a later '|' (anywhere, even inside a group) and match from there at the same start.
function nomatch(re: string, at: number, info: Info): RegexMatch | null {
  let i = at;
  while (i < re.length && re[i] !== "|") {
    if (re[i] === "\\") {
      i++;
      if (i >= re.length) return null;
    }
    i++;
  }
  if (re[i] !== "|") return null;
  return matchhere(re, i + 1, info.startIndex, info);
}

/** matchcharacter: does the regex char at re[at] match src[pos]? Returns [matched, length in the regex]. */
function matchchar(re: string, at: number, pos: number, info: Info): [boolean, number] {
  let length = 1;
  let ch = pos < info.src.length ? info.src.charCodeAt(pos) : 0;
  if (re[at] === ".") return [true, 1];
  if (re[at] === "[") {
    info.rangeMatch = true;
    const inverted = re[at + 1] === "^";
    if (inverted) length++;
    let any = false;
    while (at + length < re.length && re[at + length] !== "]") {
      if (re[at + length] === ".") {
        any = any || ch === 46;
        length++;
      } else {
        const [m, l] = matchchar(re, at + length, pos, info);
        any = any || m;
        length += l;
      }
    }
    if (re[at + length] === "]") length++;
    else throw new EspruinoRegexError("Unfinished character set in RegEx");
    info.rangeMatch = false;
    return [any !== inverted, length];
  }
  let cH = at < re.length ? re.charCodeAt(at) : 0;
  if (re[at] === "\\") {
    length = 2;
    const e = re[at + 1];
    cH = at + 1 < re.length ? re.charCodeAt(at + 1) : 0;
    if (e === "d") return [isNumeric(ch), 2];
    if (e === "D") return [!isNumeric(ch), 2];
    if (e === "s") return [isWhitespace(ch), 2];
    if (e === "S") return [!isWhitespace(ch), 2];
    if (e === "w") return [isNumeric(ch) || isAlpha(ch), 2];
    if (e === "W") return [!(isNumeric(ch) || isAlpha(ch)), 2];
    const codes: Record<string, number> = { f: 0x0c, b: 0x08, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b, "0": 0 };
    if (e !== undefined && e in codes) cH = codes[e];
    else if (e !== undefined && e >= "1" && e <= "9") throw new EspruinoRegexError("Backreferences not supported");
    else if (e === "x" && re[at + 2] && re[at + 3]) {
      length = 4;
      cH = hexToByte(re[at + 2], re[at + 3]);
    }
  }
  if (info.rangeMatch && re[at + length] === "-" && re[at + length + 1] !== "]") {
    info.rangeFirstChar = cH;
    length++;
    const [m, l] = matchchar(re, at + length, pos, info);
    return [m, length + l];
  }
  if (info.ignoreCase) {
    ch = lower(ch);
    cH = lower(cH);
  }
  if (info.rangeFirstChar !== NO_RANGE) {
    let cL = info.rangeFirstChar;
    if (info.ignoreCase) cL = lower(cL);
    info.rangeFirstChar = NO_RANGE;
    return [ch >= cL && ch <= cH && cL < cH, length];
  }
  return [cH === ch, length];
}

function matchhere(re: string, at: number, pos: number, infoIn: Info): RegexMatch | null {
  const info = copy(infoIn); // the C code passes matchInfo by value
  for (;;) {
    if (at >= re.length || re[at] === "|") return found(pos, info);
    const c = re[at];
    if (c === "^") {
      if (pos !== 0) return null;
      at++;
      continue;
    }
    if (c === "$") {
      if (pos >= info.src.length) {
        at++;
        continue;
      }
      return nomatch(re, at + 1, info);
    }
    if (c === "(") {
      info.groupStart[info.groups] = pos;
      info.groupEnd[info.groups] = pos;
      if (info.groups < MAX_GROUPS) info.groups++;
      at++;
      continue;
    }
    if (c === ")") {
      if (info.groups > 0) info.groupEnd[info.groups - 1] = pos;
      at++;
      continue;
    }
    let [matched, len] = matchchar(re, at, pos, info);
    const op = re[at + len];
    if (op === "*" || op === "+") {
      if (!matched && op === "+") return nomatch(re, at + len + 1, info);
      const after = at + len + 1;
      let last = matchhere(re, after, pos, info);
      let p = pos;
      while (p < info.src.length && matched) {
        p++;
        [matched, len] = matchchar(re, at, p, info);
        const r = matchhere(re, after, p, info);
        if (r) last = r;
      }
      return last;
    }
    if (pos < info.src.length && matched) {
      pos++;
      at += len;
      continue;
    }
    return nomatch(re, at + len, info);
  }
}

/** Espruino's `match()`: the endsWith shortcut, then startIndex, then each later index that still has a char
 *  (never str.length itself unless it is startIndex: only the shortcut finds /$/ at the end of "ab"). */
/**
 * jswrap_regexp_constructor's "endsWith" shortcut (2v29, ESPR_NO_REGEX_OPTIMISE unset): a source of plain characters
 * (\. and \\ allowed) ending in `$` is matched by a case-sensitive string compare at the end, whatever the flags;
 * when that fails, exec falls back to the engine. Returns the text to compare, or null.
 */
export function endsWithShortcut(source: string): string | null {
  let ch = "";
  let plain = true;
  let buf = "";
  for (let i = 0; i < source.length; i++) {
    const wasSlash = ch === "\\";
    if (ch && ".[]()|^*+$".indexOf(ch) >= 0) plain = false;
    ch = source[i];
    if (wasSlash && ".\\".indexOf(ch) < 0) {
      plain = false;
      ch = "";
    }
    if (ch && (wasSlash || ch !== "\\") && buf.length < 32) buf += ch;
    if (wasSlash) ch = "";
  }
  return ch === "$" && plain && buf.length < 32 ? buf.substring(0, buf.length - 1) : null;
}

export function espruinoMatch(source: string, str: string, startIndex: number, ignoreCase: boolean, sticky = false): RegexMatch | null {
  const ew = endsWithShortcut(source);
  if (ew !== null) {
    const idx = str.length - ew.length;
    if (startIndex <= idx && str.substring(idx) === ew) return { index: idx, parts: [ew] };
  }
  const info: Info = {
    src: str,
    startIndex: startIndex,
    ignoreCase: ignoreCase,
    rangeMatch: false,
    rangeFirstChar: NO_RANGE,
    groups: 0,
    groupStart: [],
    groupEnd: [],
  };
  let r = matchhere(source, 0, startIndex, info);
  if (sticky) return r;
  let pos = startIndex + 1;
  while (!r && pos < str.length) {
    info.startIndex = pos;
    r = matchhere(source, 0, pos, info);
    pos++;
  }
  return r;
}
