// cameo_text.js: words split and lower-cased as Rust does it (part of the cameo JavaScript
// SDK; import it through cameo.js).

import { ALNUM, LOWER, CASED } from "./cameo_unicode.js";

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
