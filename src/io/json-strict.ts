/**
 * A strict JSON parser for safetensors headers, as strict as serde_json 1.0 (which the reference Rust
 * crate uses) where `JSON.parse` is lenient or lossy:
 * - objects keep every member in source order, duplicates included (`JsonObject.pairs`), so the
 *   caller decides what a duplicate means (JSON.parse keeps the last one silently);
 * - numbers keep their source text, so 18446744073709551615 is exact and `2.0` is not an integer;
 *   a number whose magnitude overflows a double (`1e400`) is an error, as serde_json's "number out
 *   of range";
 * - lone UTF-16 surrogate escapes (`"\ud800"`) are an error (serde_json needs valid UTF-8 strings);
 * - at most 127 nested arrays/objects, as serde_json's recursion limit of 128 allows (the 128th
 *   level is its "recursion limit exceeded"), never a stack overflow;
 * - keys such as `__proto__` or `constructor` are plain data.
 * Errors are `JsonSyntaxError`s with the character position; the caller wraps them in its own error.
 */

/** A JSON number as written in the source, e.g. `'16'`, `'-1'`, `'2.5e3'`. */
export class JsonNumber {
  constructor(readonly raw: string) {}
}

/** A JSON object: every member in source order, duplicate keys included. */
export class JsonObject {
  constructor(readonly pairs: readonly (readonly [string, JsonValue])[]) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

export class JsonSyntaxError extends Error {}

/** The most nested arrays/objects serde_json's default recursion limit (128) lets through. */
export const MAX_JSON_DEPTH = 127;

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
/** A UTF-16 surrogate without its pair: not a Unicode scalar value, so not valid UTF-8 (serde_json rejects it). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings: this finds them
const PLAIN_BREAK = /[\u0000-\u001f\\]/;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Parses one JSON text (surrounding JSON whitespace allowed). Throws JsonSyntaxError. */
export function parseStrictJson(text: string): JsonValue {
  let pos = 0;

  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at character ${pos}`);
  };
  const skipWs = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const expect = (ch: string): void => {
    if (text[pos] !== ch) fail(`expected '${ch}' but found ${pos < text.length ? JSON.stringify(text[pos]) : 'the end'}`);
    pos++;
  };

  const parseString = (): string => {
    expect('"');
    // Fast path: no escape and no control character up to the closing quote (the text came from a
    // strict UTF-8 decode, so it holds no lone surrogate unless an escape writes one).
    const close = text.indexOf('"', pos);
    if (close >= 0) {
      const raw = text.slice(pos, close);
      if (!PLAIN_BREAK.test(raw)) {
        pos = close + 1;
        return raw;
      }
    }
    let out = '';
    let start = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(start, pos);
        pos++;
        break;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, pos);
        const e = text[pos + 1];
        if (e === 'u') {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 6;
        } else if (e !== undefined && e in ESCAPES) {
          out += ESCAPES[e];
          pos += 2;
        } else {
          fail('bad escape');
        }
        start = pos;
        continue;
      }
      pos++;
    }
    if (LONE_SURROGATE.test(out)) fail('lone surrogate in string');
    return out;
  };

  const parseValue = (depth: number): JsonValue => {
    skipWs();
    const c = text[pos];
    if (c === '{' || c === '[') {
      if (depth >= MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
      pos++;
      skipWs();
      if (c === '[') {
        const arr: JsonValue[] = [];
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        for (;;) {
          arr.push(parseValue(depth + 1));
          skipWs();
          if (text[pos] === ',') pos++;
          else {
            expect(']');
            return arr;
          }
        }
      }
      const pairs: [string, JsonValue][] = [];
      if (text[pos] === '}') {
        pos++;
        return new JsonObject(pairs);
      }
      for (;;) {
        skipWs();
        const key = parseString();
        skipWs();
        expect(':');
        pairs.push([key, parseValue(depth + 1)]);
        skipWs();
        if (text[pos] === ',') pos++;
        else {
          expect('}');
          return new JsonObject(pairs);
        }
      }
    }
    if (c === '"') return parseString();
    if (text.startsWith('true', pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith('false', pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith('null', pos)) {
      pos += 4;
      return null;
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m === null) return fail(`unexpected ${pos < text.length ? JSON.stringify(text[pos]) : 'end of input'}`);
    if (!Number.isFinite(Number(m[0]))) fail(`number ${m[0]} out of range`);
    pos += m[0].length;
    return new JsonNumber(m[0]);
  };

  const value = parseValue(0);
  skipWs();
  if (pos !== text.length) fail('trailing characters after the JSON value');
  return value;
}
