// wordcount-raw: example-operators/js/wordcount written against the component's imports and
// exports alone, without the cameo SDK: the baseline `cameo bench languages` measures the SDK
// against. The text of an event is its value's `text` field when the value is a JSON object
// with a string `text` field, else the whole value; words are runs of ASCII letters and digits
// (JavaScript's Unicode letters and numbers for other text), lower-cased by `toLowerCase`, and
// counted in host state (8 bytes little-endian per word). Unlike the SDK it follows
// JavaScript's rules, not Rust's, for JSON and Unicode. QuickJS has no TextEncoder or
// TextDecoder: the text is decoded and encoded by hand.
import { get as stateGet, put as statePut } from "cameo:operator/state@0.1.0";

const ASCII_WORD = /[A-Za-z0-9]+/g;
const WORD = /[\p{L}\p{N}]+/gu;

/** The text of UTF-8 `bytes`; null when they are not UTF-8. */
function decode(bytes) {
    let text = "";
    for (let k = 0; k < bytes.length; k += 4096) text += String.fromCharCode.apply(null, bytes.subarray(k, k + 4096));
    if (!/[\x80-\xff]/.test(text)) return text;
    try {
        return decodeURIComponent(escape(text));
    } catch {
        return null;
    }
}

/** The UTF-8 bytes of `text`. */
function encode(text) {
    const binary = /^[\x00-\x7f]*$/.test(text) ? text : unescape(encodeURIComponent(text));
    const out = new Uint8Array(binary.length);
    for (let k = 0; k < binary.length; k++) out[k] = binary.charCodeAt(k);
    return out;
}

function textOf(event) {
    const text = decode(event.value);
    if (text === null) throw { tag: "invalid-input", val: "event value is not UTF-8" };
    let value;
    try {
        value = JSON.parse(text);
    } catch {
        return text;
    }
    return value !== null && typeof value === "object" && typeof value.text === "string" ? value.text : text;
}

export const handler = {
    init(config) {},
    process(batch) {
        const counts = new Map();
        const out = [];
        for (const event of batch) {
            const text = textOf(event);
            for (const found of text.match(/^[\x00-\x7f]*$/.test(text) ? ASCII_WORD : WORD) ?? []) {
                const word = found.toLowerCase();
                let entry = counts.get(word);
                if (entry === undefined) {
                    const key = encode(word);
                    const stored = stateGet(key);
                    let count = 0;
                    if (stored !== undefined && stored !== null) for (let k = 7; k >= 0; k--) count = count * 256 + stored[k];
                    entry = { key, count };
                    counts.set(word, entry);
                }
                entry.count += 1;
                out.push({
                    key: entry.key,
                    value: encode(`{"count":${entry.count},"word":"${word}"}`),
                    eventTime: event.eventTime,
                    headers: [],
                });
            }
        }
        for (const { key, count } of counts.values()) {
            const bytes = new Uint8Array(8);
            let n = count;
            for (let k = 0; k < 8; k++) { bytes[k] = n % 256; n = Math.floor(n / 256); }
            statePut(key, bytes);
        }
        return out;
    },
    onTimer(key, time) {
        return [];
    },
};
