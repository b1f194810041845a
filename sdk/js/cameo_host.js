// cameo_host.js: the host's imports (state, timers, log) over strings or bytes (part of the
// cameo JavaScript SDK; import it through cameo.js).

import { get as stateGetRaw, put as statePutRaw, delete as stateDeleteRaw, scan as stateScanRaw } from "cameo:operator/state@0.1.0";
import { register as registerRaw } from "cameo:operator/timers@0.1.0";
import { log as logRaw } from "cameo:operator/log@0.1.0";
import { Failed } from "./cameo_errors.js";
import { utf8Decode, utf8Encode } from "./cameo_utf8.js";

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
