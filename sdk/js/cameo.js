// cameo.js: write cameo stream operators in JavaScript (an ES module, built with jco's QuickJS
// backend by `cameo operator build`).
//
// An operator is a subclass of `Operator`, exported as the module's `handler`:
//
//     import * as cameo from "./cameo.js";
//
//     class Upper extends cameo.Operator {
//         init(config) { this.suffix = config.getStr("suffix") ?? ""; }
//         process(event, out) { out.emit(cameo.event(cameo.valueStr(event).toUpperCase() + this.suffix)); }
//     }
//
//     export const handler = cameo.exportOperator(Upper);
//
// Throw `InvalidInput` (the input cannot be understood) or `Failed` to fail a call: the host
// sends its batch to the dead-letter output and discards the state writes it made. Any other
// exception traps, as a panic does in Rust: the host re-creates the instance and keeps the
// state.
//
// QuickJS has no TextEncoder or TextDecoder: `utf8Encode` and `utf8Decode` stand in. Event
// times (s64) arrive as Numbers. The text and JSON helpers follow the Rust SDK exactly:
// `words` splits and lower-cases as Rust does (tables generated from Rust), `parseJson`
// refuses what serde_json refuses (lone surrogates, numbers out of the f64 range, more than
// 127 levels of nesting) and keeps integers beyond 2^53 exact as BigInts; with
// `{ exact: true }` every number is a `JsonNumber` that remembers whether it was an integer,
// which `jsonSame` (serde_json's equality: 2 is not 2.0) needs.

import { get as stateGetRaw, put as statePutRaw, delete as stateDeleteRaw, scan as stateScanRaw } from "cameo:operator/state@0.1.0";
import { register as registerRaw } from "cameo:operator/timers@0.1.0";
import { log as logRaw } from "cameo:operator/log@0.1.0";
import { ALNUM, LOWER, CASED } from "./cameo_unicode.js";

// --- errors -----------------------------------------------------------------------------------

/** A failed call; use `InvalidInput` or `Failed`. */
export class CameoError extends Error {}

/** The input could not be understood (bad JSON, a missing field); retrying will not help. */
export class InvalidInput extends CameoError {}

/** The operator failed for another reason. */
export class Failed extends CameoError {}

function witError(error) {
    return { tag: error instanceof InvalidInput ? "invalid-input" : "failed", val: error.message };
}

// --- UTF-8 ------------------------------------------------------------------------------------

/** The UTF-8 bytes of a string (lone surrogates become U+FFFD). */
export function utf8Encode(text) {
    const length = text.length;
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) return utf8EncodeAny(text);
        out[i] = c;
    }
    return out;
}

function utf8EncodeAny(text) {
    const out = [];
    for (let i = 0; i < text.length; i++) {
        let c = text.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
            const d = text.charCodeAt(i + 1);
            if (d >= 0xdc00 && d <= 0xdfff) {
                c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
                i++;
            } else c = 0xfffd;
        } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
        else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
        else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    }
    return new Uint8Array(out);
}

// Loops in QuickJS cost far more fuel than native calls, so the decoder is made of native
// calls: Math.max over the bytes says whether they are all ASCII (a native call takes at most
// CHUNK arguments at a time), and `atob(bytes.toBase64())` (QuickJS-ng's native base64 codec)
// reads them as Latin-1, one character per byte, which is their text when they are ASCII.
const CHUNK = 4096;
const max = Math.max;

/** Whether every byte is below 0x80. */
function isAscii(bytes) {
    if (bytes.length <= CHUNK) return max.apply(null, bytes) < 0x80;
    for (let k = 0; k < bytes.length; k += CHUNK) if (max.apply(null, bytes.subarray(k, k + CHUNK)) >= 0x80) return false;
    return true;
}

/** The bytes (a Uint8Array, or an array of byte values) read as Latin-1: one character per
 * byte. */
function latin1(bytes) {
    return atob((bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes)).toBase64());
}

/** The text of UTF-8 bytes; null when they are not valid UTF-8 (strict, as Rust). */
export function utf8Decode(bytes) {
    return isAscii(bytes) ? latin1(bytes) : utf8DecodeLatin1(latin1(bytes), bytes);
}

/** The text of UTF-8 `bytes` that are not all ASCII (`read`: one character per byte). */
function utf8DecodeLatin1(read, bytes) {
    // decodeURIComponent decodes UTF-8 natively and refuses what is not UTF-8 (overlong
    // forms, surrogates, code points past U+10FFFF); the strict decoder has the last word.
    try {
        return decodeURIComponent(escape(read));
    } catch (_) {
        return utf8DecodeStrict(bytes);
    }
}

function utf8DecodeStrict(bytes) {
    let text = "";
    let chunk = [];
    for (let i = 0; i < bytes.length; ) {
        const b = bytes[i];
        let c, n, min;
        if (b < 0x80) { c = b; n = 1; min = 0; }
        else if ((b & 0xe0) === 0xc0) { c = b & 0x1f; n = 2; min = 0x80; }
        else if ((b & 0xf0) === 0xe0) { c = b & 0x0f; n = 3; min = 0x800; }
        else if ((b & 0xf8) === 0xf0) { c = b & 0x07; n = 4; min = 0x10000; }
        else return null;
        if (i + n > bytes.length) return null;
        for (let k = 1; k < n; k++) {
            const x = bytes[i + k];
            if ((x & 0xc0) !== 0x80) return null;
            c = (c << 6) | (x & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return null;
        if (c < 0x10000) chunk.push(c);
        else chunk.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff));
        if (chunk.length > 4096) { text += String.fromCharCode.apply(null, chunk); chunk = []; }
        i += n;
    }
    return text + String.fromCharCode.apply(null, chunk);
}

// --- JSON, as serde_json does it --------------------------------------------------------------

/** A JSON number from `parseJson(text, { exact: true })`: `kind` is "u" (an integer that fits
 * a u64), "i" (a negative one that fits an i64) or "f" (any other), `value` a BigInt for
 * "u" and "i", a Number for "f". */
export class JsonNumber {
    constructor(kind, value) { this.kind = kind; this.value = value; }
    toNumber() { return Number(this.value); }
}

const U64_MAX = 18446744073709551615n;
const I64_MIN = -9223372036854775808n;

class JsonSyntax extends Error {}

const NO_OPTIONS = {};
const parseNative = JSON.parse;
const isArray = Array.isArray;

/** Parses JSON text as serde_json would; throws `InvalidInput` saying "<what> is not valid
 * JSON: ..." when it would refuse it. */
export function parseJson(text, options = {}) {
    const exact = options.exact === true;
    if (options.lenient !== true) {
        const value = parsePlain(text, exact);
        if (value !== DOUBTFUL) return value;
    }
    return parseStrict(text, options.what ?? "JSON", exact, options.lenient === true);
}

// The engine's JSON.parse (native) reads most text as serde_json does. It may not where the
// text has a `\u` escape (the only way to a lone surrogate), an integer past 2^53, a number
// out of the f64 range or -0 (seen on the parsed numbers), more than 127 levels of nesting,
// or, for exact numbers, a number with a fraction or an exponent (JSON.parse reads 2.0 as 2).
// Such text, and any text JSON.parse refuses, is read by the strict reader, whose results and
// errors are serde_json's.
const DOUBTFUL = Symbol("doubtful");
const FRACTION_OR_EXPONENT = /[0-9][.eE]/;

/** `text` read by JSON.parse (numbers as `JsonNumber`s when `exact`), or DOUBTFUL. */
function parsePlain(text, exact) {
    if (text.indexOf("\\u") >= 0 || (exact && FRACTION_OR_EXPONENT.test(text))) return DOUBTFUL;
    let value;
    try {
        value = JSON.parse(text);
    } catch (_) {
        return DOUBTFUL;
    }
    if (!plainExact(value, 0)) return DOUBTFUL;
    return exact ? exactNumbers(value) : value;
}

/** Whether `value`, from JSON.parse of text without `\u` escapes, is what the strict reader
 * gives: numbers finite, integers safe and not -0, containers at most 127 deep (`depth` of
 * them enclose `value`). */
function plainExact(value, depth) {
    if (typeof value === "number") return plainNumber(value);
    if (value === null || typeof value !== "object") return true;
    if (depth >= 127) return false;
    if (Array.isArray(value)) {
        for (let k = 0; k < value.length; k++) if (!plainExact(value[k], depth + 1)) return false;
        return true;
    }
    for (const key in value) if (!plainExact(value[key], depth + 1)) return false;
    return true;
}

/** Whether JSON.parse's number `x` is the strict reader's: finite, an integer only when safe
 * (any number past 2^53 is a whole number), not -0 (the strict reader reads `-0` as 0). */
function plainNumber(x) {
    return x > -9007199254740992 && x < 9007199254740992 && (x !== 0 || 1 / x > 0);
}

const hasOwn = Object.prototype.hasOwnProperty;

/** `value` with its numbers, all written as integers, made `JsonNumber`s (in place). */
function exactNumbers(value) {
    if (typeof value === "number") return new JsonNumber(value < 0 ? "i" : "u", BigInt(value));
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) {
        for (let k = 0; k < value.length; k++) value[k] = exactNumbers(value[k]);
        return value;
    }
    for (const key of Object.keys(value)) {
        const item = exactNumbers(value[key]);
        if (key === "__proto__") Object.defineProperty(value, key, { value: item, enumerable: true, writable: true, configurable: true });
        else value[key] = item;
    }
    return value;
}

function parseStrict(text, what, exact, lenient) {
    let i = 0;
    const fail = (why) => { throw new JsonSyntax(why); };
    const ws = () => {
        while (i < text.length) {
            const c = text.charCodeAt(i);
            if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
            else break;
        }
    };
    const number = () => {
        const start = i;
        let integer = true;
        if (text[i] === "-") i++;
        if (!(text[i] >= "0" && text[i] <= "9")) fail("invalid number");
        if (text[i] === "0") i++;
        else while (text[i] >= "0" && text[i] <= "9") i++;
        if (text[i] === ".") {
            integer = false;
            i++;
            if (!(text[i] >= "0" && text[i] <= "9")) fail("invalid number");
            while (text[i] >= "0" && text[i] <= "9") i++;
        }
        if (text[i] === "e" || text[i] === "E") {
            integer = false;
            i++;
            if (text[i] === "+" || text[i] === "-") i++;
            if (!(text[i] >= "0" && text[i] <= "9")) fail("invalid number");
            while (text[i] >= "0" && text[i] <= "9") i++;
        }
        const literal = text.slice(start, i);
        if (integer) {
            const big = BigInt(literal);
            if (big >= I64_MIN && big <= U64_MAX) {
                if (exact) return new JsonNumber(big < 0n ? "i" : "u", big);
                const n = Number(big);
                return Number.isSafeInteger(n) ? n : big;
            }
        }
        const f = Number(literal);
        if (!Number.isFinite(f) && !lenient) fail("number out of range");
        return exact ? new JsonNumber("f", f) : f;
    };
    const hex4 = () => {
        const h = text.slice(i, i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) fail("invalid escape");
        i += 4;
        return parseInt(h, 16);
    };
    const string = () => {
        i++;
        let out = "";
        let start = i;
        for (;;) {
            if (i >= text.length) fail("EOF while parsing a string");
            const c = text.charCodeAt(i);
            if (c === 0x22) { out += text.slice(start, i); i++; return out; }
            if (c < 0x20) fail("control character found while parsing a string");
            if (c === 0x5c) {
                out += text.slice(start, i);
                i++;
                const e = text[i++];
                if (e === "u") {
                    const cp = hex4();
                    if (cp >= 0xdc00 && cp <= 0xdfff && !lenient) fail("lone leading surrogate in hex escape");
                    if (cp >= 0xd800 && cp <= 0xdbff && lenient && !(text[i] === "\\" && text[i + 1] === "u")) {
                        out += String.fromCharCode(cp);
                    } else if (cp >= 0xd800 && cp <= 0xdbff) {
                        if (text[i] !== "\\" || text[i + 1] !== "u") fail("unexpected end of hex escape");
                        i += 2;
                        const lo = hex4();
                        if ((lo < 0xdc00 || lo > 0xdfff) && !lenient) fail("lone leading surrogate in hex escape");
                        out += String.fromCharCode(cp, lo);
                    } else out += String.fromCharCode(cp);
                } else {
                    const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }[e];
                    if (simple === undefined) fail("invalid escape");
                    out += simple;
                }
                start = i;
            } else i++;
        }
    };
    let depth = 0;
    const value = () => {
        ws();
        if (i >= text.length) fail("EOF while parsing a value");
        const c = text[i];
        if (c === "{" || c === "[") {
            if (++depth > 127 && !lenient) fail("recursion limit exceeded");
            const object = c === "{";
            const close = object ? "}" : "]";
            const out = object ? {} : [];
            i++;
            ws();
            if (text[i] === close) { i++; depth--; return out; }
            for (;;) {
                if (object) {
                    ws();
                    if (text[i] !== '"') fail("key must be a string");
                    const key = string();
                    ws();
                    if (text[i] !== ":") fail("expected `:`");
                    i++;
                    Object.defineProperty(out, key, { value: value(), enumerable: true, writable: true, configurable: true });
                } else out.push(value());
                ws();
                if (text[i] === ",") { i++; continue; }
                if (text[i] === close) { i++; depth--; return out; }
                fail(i >= text.length ? "EOF while parsing a list or object" : `expected \`,\` or \`${close}\``);
            }
        }
        if (c === '"') return string();
        if (c === "-" || (c >= "0" && c <= "9")) return number();
        for (const [word, v] of [["null", null], ["true", true], ["false", false]]) {
            if (text.startsWith(word, i)) { i += word.length; return v; }
        }
        fail("expected value");
    };
    try {
        const result = value();
        ws();
        if (i !== text.length) fail("trailing characters");
        return result;
    } catch (error) {
        if (error instanceof JsonSyntax) throw new InvalidInput(`${what} is not valid JSON: ${error.message}`);
        throw error;
    }
}

/** Throws when `value`, parsed leniently, holds what a strict parse refuses: a number out of
 * the f64 range, a lone surrogate, or more than 127 levels of nesting (`depth` are above it). */
function checkStrict(value, depth) {
    if (value instanceof JsonNumber) value = value.value;
    if (typeof value === "number" && !Number.isFinite(value)) throw new JsonSyntax("number out of range");
    if (typeof value === "string") {
        for (let k = 0; k < value.length; k++) {
            const c = value.charCodeAt(k);
            if (c >= 0xd800 && c <= 0xdbff) {
                const d = value.charCodeAt(k + 1);
                if (d >= 0xdc00 && d <= 0xdfff) k++;
                else throw new JsonSyntax("lone leading surrogate in hex escape");
            } else if (c >= 0xdc00 && c <= 0xdfff) throw new JsonSyntax("lone leading surrogate in hex escape");
        }
    } else if (value !== null && typeof value === "object") {
        if (depth + 1 > 127) throw new JsonSyntax("recursion limit exceeded");
        for (const [key, item] of Object.entries(value)) {
            checkStrict(key, depth + 1);
            checkStrict(item, depth + 1);
        }
    }
}

/** One top-level field of the event's value, a JSON object, as the Rust SDK's
 * `Event::json_field` reads it: the field itself strictly, the other fields only scanned for
 * syntax (a lone surrogate, a number out of range or deep nesting there is let through);
 * undefined when there is no such field (the last of repeated ones wins). Throws
 * `InvalidInput` saying "cannot read field `name` of the event value: ..." otherwise.
 * `options.exact` as for `parseJson`. */
export function jsonField(event, name, options = NO_OPTIONS) {
    // Most events' path, with every check inline (a call costs fuel too): the value is ASCII
    // (utf8Decode's test), so its text is its bytes read as Latin-1; JSON.parse reads it, and
    // the field is checked as `parsePlain` checks a whole value. The other fields were only
    // scanned, as the strict reader scans them.
    const bytes = event.value;
    let text = null;
    let object = null;
    try {
        // (A value too long for a native call's arguments throws here: utf8Decode reads it.)
        if (max.apply(null, bytes) < 0x80) {
            text = atob(bytes.toBase64());
            const value = parseNative(text);
            // Text that JSON.parse reads and that starts with `{` is an object.
            if (bytes[0] === 0x7b || (value !== null && typeof value === "object" && !isArray(value))) object = value;
        }
    } catch (_) {
        // The strict reader words the error.
    }
    const exact = options.exact === true;
    if (object !== null) {
        const found = object[name];
        if (typeof found === "number") {
            // plainNumber, inline, int32s first.
            if (((found | 0) === found || (found > -9007199254740992 && found < 9007199254740992))
                && (found !== 0 || 1 / found > 0)) {
                if (!exact) return found;
                if (!FRACTION_OR_EXPONENT.test(text)) return exactNumbers(found);
            }
        } else if (found === undefined || typeof found === "function") {
            // JSON.parse makes no undefined or functions: those are absent or inherited.
            return undefined;
        } else if (typeof found === "boolean" || found === null) {
            if (name !== "__proto__" || hasOwn.call(object, name)) return found;
        } else if (name !== "__proto__" && text.indexOf("\\u") < 0 && plainExact(found, 1)
            && !(exact && typeof found !== "string" && FRACTION_OR_EXPONENT.test(text))) {
            return exact ? exactNumbers(found) : found;
        }
    }
    if (text === null) text = utf8Decode(bytes);
    if (text === null) throw fieldError(name, "invalid unicode code point");
    let value;
    try {
        value = parseStrict(text, "JSON", exact, true);
    } catch (error) {
        if (error instanceof InvalidInput) throw fieldError(name, error.message.replace("JSON is not valid JSON: ", ""));
        throw error;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof JsonNumber) {
        throw fieldError(name, `invalid type: ${kind(value)}, expected a JSON object`);
    }
    if (!Object.prototype.hasOwnProperty.call(value, name)) return undefined;
    try {
        checkStrict(value[name], 1);
    } catch (error) {
        if (error instanceof JsonSyntax) throw fieldError(name, error.message);
        throw error;
    }
    return value[name];
}

function fieldError(name, why) {
    return new InvalidInput(`cannot read field \`${name}\` of the event value: ${why}`);
}

/** A JSON value's type in words, as the Rust SDK's messages name it. */
export function kind(value) {
    if (value === null || value === undefined) return "null";
    if (typeof value === "boolean") return "a boolean";
    if (value instanceof JsonNumber) return value.kind === "f" ? "a fractional number" : value.kind === "i" ? "a negative number" : "a number";
    if (typeof value === "bigint") return value < 0n ? "a negative number" : "a number";
    if (typeof value === "number") return Number.isInteger(value) ? (value < 0 ? "a negative number" : "a number") : "a fractional number";
    if (typeof value === "string") return "a string";
    if (Array.isArray(value)) return "an array";
    return "an object";
}

/** Whether a parsed value is a JSON number (Number, BigInt or JsonNumber). */
export function isNumber(value) {
    return typeof value === "number" || typeof value === "bigint" || value instanceof JsonNumber;
}

/** A parsed JSON number (Number, BigInt or JsonNumber) as the nearest Number, as Rust's
 * `as_f64` gives it. */
export function toNumber(value) {
    return typeof value === "number" ? value : value instanceof JsonNumber ? value.toNumber() : Number(value);
}

/** serde_json's equality on values parsed with `{ exact: true }`: 2 is not 2.0. */
export function jsonSame(a, b) {
    if (a instanceof JsonNumber || b instanceof JsonNumber) {
        return a instanceof JsonNumber && b instanceof JsonNumber && a.kind === b.kind && a.value === b.value;
    }
    if (a === null || typeof a !== "object") return a === b;
    if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, k) => jsonSame(x, b[k]));
    if (b === null || typeof b !== "object" || Array.isArray(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonSame(a[k], b[k]));
}

/** The value at a JSON Pointer such as "/order/total" (RFC 6901), or undefined. */
export function jsonPointer(value, pointer) {
    if (pointer === "") return value;
    if (!pointer.startsWith("/")) return undefined;
    for (let token of pointer.slice(1).split("/")) {
        token = token.replaceAll("~1", "/").replaceAll("~0", "~");
        if (Array.isArray(value)) {
            if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
            value = value[Number(token)];
        } else if (value !== null && typeof value === "object" && !(value instanceof JsonNumber)) {
            if (!Object.prototype.hasOwnProperty.call(value, token)) return undefined;
            value = value[token];
        } else return undefined;
        if (value === undefined) return undefined;
    }
    return value;
}

// --- events -----------------------------------------------------------------------------------

/** A new event; string values and keys are encoded as UTF-8. */
export function event(value, key = undefined, eventTime = 0, headers = []) {
    return {
        key: typeof key === "string" ? utf8Encode(key) : key,
        value: typeof value === "string" ? utf8Encode(value) : value,
        eventTime,
        headers,
    };
}

/** The event's value as text; `InvalidInput` if it is not UTF-8. */
export function valueStr(event) {
    const text = utf8Decode(event.value);
    if (text === null) throw new InvalidInput("event value is not UTF-8");
    return text;
}

/** The event's value parsed as JSON (see `parseJson`). */
export function valueJson(event, options = {}) {
    const text = utf8Decode(event.value);
    if (text === null) throw new InvalidInput("event value is not valid JSON: invalid unicode code point");
    const exact = options.exact === true;
    const value = parsePlain(text, exact);
    return value !== DOUBTFUL ? value : parseStrict(text, "event value", exact, false);
}

/** The events a call sends downstream, in the order they are emitted. */
export class Output {
    constructor() {
        this.events = [];
        // The list's own push: no JavaScript frame per emitted event.
        this.emit = this.events.push.bind(this.events);
    }
}

/** The operator's `config` table from the job spec, with typed getters whose errors name the
 * field (the same messages as the Rust SDK). Values are parsed with `{ exact: true }`. */
export class Config {
    constructor(fields) { this.fields = fields; }

    static fromJson(text) {
        const value = parseJson(text, { what: "config", exact: true });
        if (value === null) return new Config({});
        if (typeof value !== "object" || Array.isArray(value) || value instanceof JsonNumber) {
            throw new InvalidInput(`config must be a JSON object, got ${kind(value)}`);
        }
        return new Config(value);
    }

    /** The field, undefined when missing or null. */
    value(name) {
        const v = Object.prototype.hasOwnProperty.call(this.fields, name) ? this.fields[name] : undefined;
        return v === null ? undefined : v;
    }

    typed(name, expected, accepts) {
        const v = this.value(name);
        if (v === undefined) return undefined;
        if (!accepts(v)) throw new InvalidInput(`config field \`${name}\` must be ${expected}, got ${kind(v)}`);
        return v;
    }

    getStr(name) { return this.typed(name, "a string", (v) => typeof v === "string"); }

    getF64(name) {
        const v = this.typed(name, "a number", isNumber);
        return v === undefined ? undefined : v instanceof JsonNumber ? v.toNumber() : Number(v);
    }

    getBool(name) { return this.typed(name, "a boolean", (v) => typeof v === "boolean"); }

    requireStr(name) {
        const v = this.getStr(name);
        if (v === undefined) throw new InvalidInput(`config field \`${name}\` is required but missing`);
        return v;
    }
}

// --- text, as Rust splits and lower-cases it --------------------------------------------------

const LOWER_MAP = new Map();
for (let k = 0; k < LOWER.length; k += 2) LOWER_MAP.set(LOWER[k], LOWER[k + 1]);

function inRanges(ranges, c) {
    let lo = 0, hi = ranges.length / 2;
    while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (c < ranges[2 * mid]) hi = mid;
        else if (c > ranges[2 * mid + 1]) lo = mid + 1;
        else return true;
    }
    return false;
}

/** Rust's char::is_alphanumeric, for a code point. */
export function isAlnum(c) {
    if (c < 0x80) return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
    return inRanges(ALNUM, c);
}

/** The lower case of a word (alphanumeric characters only), as Rust's `to_lowercase`. */
export function lowerWord(word) {
    if (/^[\x00-\x7f]*$/.test(word)) return word.toLowerCase();
    const chars = Array.from(word, (ch) => ch.codePointAt(0));
    let out = "";
    for (let k = 0; k < chars.length; k++) {
        const c = chars[k];
        if (c === 0x3a3) {
            const before = k > 0 && inRanges(CASED, chars[k - 1]);
            const after = k + 1 < chars.length && inRanges(CASED, chars[k + 1]);
            out += before && !after ? "\u03c2" : "\u03c3";
        } else out += LOWER_MAP.get(c) ?? String.fromCodePoint(c);
    }
    return out;
}

const ASCII = /^[\x00-\x7f]*$/;
const ASCII_WORD = /[a-z0-9]+/g;

/** The lower-cased words of `text`, split on every character that is not alphanumeric (Rust's
 * `char::is_alphanumeric`). */
export function words(text) {
    if (ASCII.test(text)) return text.toLowerCase().match(ASCII_WORD) ?? [];
    const found = [];
    let word = "";
    for (const ch of text) {
        if (isAlnum(ch.codePointAt(0))) word += ch;
        else if (word) { found.push(lowerWord(word)); word = ""; }
    }
    if (word) found.push(lowerWord(word));
    return found;
}

// --- host imports -----------------------------------------------------------------------------

const bytes = (v) => (typeof v === "string" ? utf8Encode(v) : v);

/** The value stored under `key` (bytes or string), undefined if none. */
export function stateGet(key) { return stateGetRaw(bytes(key)) ?? undefined; }
export function statePut(key, value) { statePutRaw(bytes(key), bytes(value)); }
export function stateDelete(key) { stateDeleteRaw(bytes(key)); }
/** Up to `limit` [key, value] pairs whose key starts with `prefix`, in key order. */
export function stateScan(prefix, startAfter = undefined, limit = 10000) {
    return stateScanRaw(bytes(prefix), startAfter === undefined ? undefined : bytes(startAfter), limit);
}

/** A count stored by `statePutU64` (8 bytes little-endian) as a Number, 0 if none; `Failed`
 * when the stored value is not 8 bytes. */
export function stateGetU64(key) {
    const stored = stateGet(key);
    if (stored === undefined) return 0;
    if (stored.length !== 8) {
        const shown = typeof key === "string" ? key : utf8Decode(key) ?? "";
        throw new Failed(`state entry for \`${shown}\` holds ${stored.length} bytes, not an 8-byte count`);
    }
    let n = 0;
    for (let k = 7; k >= 0; k--) n = n * 256 + stored[k];
    return n;
}

export function statePutU64(key, count) {
    const out = new Uint8Array(8);
    let n = count;
    for (let k = 0; k < 8; k++) { out[k] = n % 256; n = Math.floor(n / 256); }
    statePut(key, out);
}

/** Asks for `onTimer(key, time)` once the watermark reaches `time`; key may be undefined. */
export function registerTimer(key, time) { registerRaw(key === undefined ? undefined : bytes(key), time); }

/** Writes a log line; level is "trace", "debug", "info", "warn" or "error". */
export function log(level, message) { logRaw(level, message); }

// --- the operator and its export --------------------------------------------------------------

/** Base class of an operator. The host creates one instance per operator instance and calls
 * `init` once, then `processBatch` for every batch and `onTimer` for every timer due. */
export class Operator {
    /** Reads the configuration (a `Config`); throw `InvalidInput` to refuse it. */
    init(config) {}
    /** Processes one event, emitting results with `out.emit`. */
    process(event, out) { throw new Failed(`${this.constructor.name} does not implement process`); }
    /** Processes a batch in arrival order; the default calls `process` for each event. */
    processBatch(batch, out) { for (let k = 0; k < batch.length; k++) this.process(batch[k], out); }
    /** Called when the watermark reaches a timer registered with `registerTimer`. */
    onTimer(key, time, out) {}
}

const NOT_INITIALISED = "operator is not initialised: init was not called, or it returned an error";

/** The `handler` export for `OperatorClass`. */
export function exportOperator(OperatorClass) {
    let instance = null;
    const call = (body) => {
        try {
            return body();
        } catch (error) {
            if (error instanceof CameoError) throw witError(error);
            throw error;
        }
    };
    return {
        init(config) {
            instance = null;
            call(() => {
                const created = new OperatorClass();
                created.init(Config.fromJson(config));
                instance = created;
            });
        },
        process(batch) {
            return call(() => {
                if (instance === null) throw new Failed(NOT_INITIALISED);
                const out = new Output();
                instance.processBatch(batch, out);
                return out.events;
            });
        },
        onTimer(key, time) {
            return call(() => {
                if (instance === null) throw new Failed(NOT_INITIALISED);
                const out = new Output();
                instance.onTimer(key, time, out);
                return out.events;
            });
        },
    };
}

// --- JSON text, as serde_json writes it -------------------------------------------------------

/** A float as serde_json writes it: the shortest digits that read back exactly,
 * positional from 1e-5 up to below 1e16 (with `.0` when whole), else `<digits>e+<exp>` or `<digits>e-<exp>`;
 * `null` for infinity and NaN. */
export function formatFloat(number) {
    if (!Number.isFinite(number)) return "null";
    const sign = number < 0 || Object.is(number, -0) ? "-" : "";
    if (number === 0) return sign + "0.0";
    const [mantissa, exponent] = Math.abs(number).toExponential().split("e");
    const digits = mantissa.replace(".", "").replace(/0+$/, "") || "0";
    // Where the decimal point goes relative to the digits (ryu's kk).
    const point = Number(exponent) + 1;
    const length = digits.length;
    if (point >= length && point <= 16) return sign + digits + "0".repeat(point - length) + ".0";
    if (point > 0 && point <= 16) return sign + digits.slice(0, point) + "." + digits.slice(point);
    if (point > -5 && point <= 0) return sign + "0." + "0".repeat(-point) + digits;
    const power = point > 1 ? `+${point - 1}` : `${point - 1}`;
    if (length === 1) return `${sign}${digits}e${power}`;
    return `${sign}${digits[0]}.${digits.slice(1)}e${power}`;
}

/** JSON text as serde_json writes it: compact, object keys sorted, non-ASCII kept; BigInts
 * and integer `JsonNumber`s as integers, other numbers as `formatFloat` writes them unless
 * they are whole Numbers (written as integers, as JSON.stringify does). */
export function stringifyJson(value) {
    if (value instanceof JsonNumber) return value.kind === "f" ? formatFloat(value.value) : value.value.toString();
    if (typeof value === "bigint") return value.toString();
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : formatFloat(value);
    if (value === null || value === undefined) return "null";
    if (Array.isArray(value)) return "[" + value.map(stringifyJson).join(",") + "]";
    if (typeof value === "object") {
        const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
        return "{" + keys.map((k) => JSON.stringify(k) + ":" + stringifyJson(value[k])).join(",") + "}";
    }
    return JSON.stringify(value);
}

// --- host-managed windows ---------------------------------------------------------------------

const PROCESS_ON_WINDOWED = "this operator is windowed (exported with cameo.exportWindowed): give it a "
    + "`window` in the job spec, for example window = { kind = \"tumbling\", size_ms = 60000 }, so that "
    + "the host assigns its events to windows";
const TIMER_ON_WINDOWED = "this operator is windowed (exported with cameo.exportWindowed) and does not "
    + "handle timers; the host fires its windows";
const MERGE_MISSING = "this window operator does not implement WindowOperator.merge, which session "
    + "windows need to combine overlapping sessions; implement it, or use a tumbling or sliding window";

/** Base class of an operator whose windows the host manages: it only says how events fold into
 * a pane's accumulator and what a complete pane emits. The host keeps one accumulator per pane
 * (one key in one window) and calls `add` for each event of a batch (once per window it falls
 * in), `merge` when two session windows of a key overlap, and `fire` once the watermark passes
 * the end of a pane (again after a late event within the allowed lateness updates it).
 *
 * An accumulator is any JSON value: it is stored with `stringifyJson` and read back with
 * `parseJson(text, { exact: true })`, so its numbers come back as `JsonNumber`s that remember
 * whether they were integers. */
export class WindowOperator {
    /** Reads the configuration (a `Config`); throw `InvalidInput` to refuse it. */
    init(config) {}
    /** The accumulator of a new pane. */
    create() { return null; }
    /** Returns `acc` with `event` folded in. */
    add(acc, event) { throw new Failed(`${this.constructor.name} does not implement add`); }
    /** The accumulator of the union of two session windows (`a` the earlier). */
    merge(a, b) { throw new Failed(MERGE_MISSING); }
    /** Emits the result of a pane: `key` (bytes or undefined), `window` (`start`, `end` in ms)
     * and its accumulator. */
    fire(key, window, acc, out) { throw new Failed(`${this.constructor.name} does not implement fire`); }
}

function describeKey(key) {
    return key === undefined || key === null ? "no key" : `key ${JSON.stringify(utf8Decode(key) ?? "")}`;
}

function accValue(bytes, what) {
    const text = utf8Decode(bytes);
    try {
        if (text === null) throw new InvalidInput("invalid unicode code point");
        return parseJson(text, { exact: true });
    } catch (error) {
        if (error instanceof InvalidInput) {
            throw new Failed(`the accumulator of ${what} is not what this operator stores: ${error.message}`);
        }
        throw error;
    }
}

/** The `handler` and `windowed` exports for `OperatorClass`, a `WindowOperator`:
 * `export const { handler, windowed } = cameo.exportWindowed(MyOperator);`. `cameo operator
 * build` builds such a module against the windowed-operator world. */
export function exportWindowed(OperatorClass) {
    let instance = null;
    const call = (body) => {
        try {
            if (instance === null) throw new Failed(NOT_INITIALISED);
            return body(instance);
        } catch (error) {
            if (error instanceof CameoError) throw witError(error);
            throw error;
        }
    };
    const handler = {
        init(config) {
            instance = null;
            try {
                const created = new OperatorClass();
                created.init(Config.fromJson(config));
                instance = created;
            } catch (error) {
                if (error instanceof CameoError) throw witError(error);
                throw error;
            }
        },
        process(batch) { throw witError(new Failed(PROCESS_ON_WINDOWED)); },
        onTimer(key, time) { throw witError(new Failed(TIMER_ON_WINDOWED)); },
    };
    const windowed = {
        accumulate(panes, events) {
            return call((operator) => {
                const accs = panes.map((pane) => pane.acc === undefined || pane.acc === null
                    ? operator.create()
                    : accValue(pane.acc, `${describeKey(pane.key)}, window [${pane.window.start}, ${pane.window.end})`));
                events.forEach(([index, event], position) => {
                    if (index >= accs.length) {
                        throw new Failed(`event ${position} of the batch names pane ${index}, but the batch has ${accs.length} panes`);
                    }
                    accs[index] = operator.add(accs[index], event);
                });
                return accs.map((acc) => utf8Encode(stringifyJson(acc)));
            });
        },
        merge(key, a, b) {
            return call((operator) => {
                const what = describeKey(key);
                const merged = operator.merge(accValue(a, `the earlier session of ${what}`), accValue(b, `the later session of ${what}`));
                return utf8Encode(stringifyJson(merged));
            });
        },
        fire(key, window, acc) {
            return call((operator) => {
                const out = new Output();
                operator.fire(key, window, accValue(acc, `${describeKey(key)}, window [${window.start}, ${window.end})`), out);
                return out.events;
            });
        },
    };
    return { handler, windowed };
}
