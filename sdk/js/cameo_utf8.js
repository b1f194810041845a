// cameo_utf8.js: UTF-8 encoding and strict decoding, which QuickJS lacks (no TextEncoder or
// TextDecoder); part of the cameo JavaScript SDK, imported through cameo.js.

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
export const CHUNK = 4096;
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
