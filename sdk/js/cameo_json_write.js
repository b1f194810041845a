// cameo_json_write.js: JSON text written as serde_json writes it (part of the cameo JavaScript
// SDK; import it through cameo.js).

import { JsonNumber } from "./cameo_json_value.js";

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
