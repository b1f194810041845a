// cameo_json.js: reading JSON text as serde_json reads it, quickly where the engine's own
// parser cannot differ (part of the cameo JavaScript SDK; import it through cameo.js).

import { InvalidInput } from "./cameo_errors.js";
import { utf8Decode } from "./cameo_utf8.js";
import { JsonNumber, kind } from "./cameo_json_value.js";

// --- JSON, as serde_json does it --------------------------------------------------------------

const U64_MAX = 18446744073709551615n;
const I64_MIN = -9223372036854775808n;

class JsonSyntax extends Error {}

const NO_OPTIONS = {};
const max = Math.max;
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
export const DOUBTFUL = Symbol("doubtful");
const FRACTION_OR_EXPONENT = /[0-9][.eE]/;

/** `text` read by JSON.parse (numbers as `JsonNumber`s when `exact`), or DOUBTFUL. */
export function parsePlain(text, exact) {
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

export function parseStrict(text, what, exact, lenient) {
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
