// cameo_json_value.js: parsed JSON values as serde_json sees them: exact numbers, their kind
// in words, equality, JSON Pointers (part of the cameo JavaScript SDK; import it through
// cameo.js).

/** A JSON number from `parseJson(text, { exact: true })`: `kind` is "u" (an integer that fits
 * a u64), "i" (a negative one that fits an i64) or "f" (any other), `value` a BigInt for
 * "u" and "i", a Number for "f". */
export class JsonNumber {
    constructor(kind, value) { this.kind = kind; this.value = value; }
    toNumber() { return Number(this.value); }
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
