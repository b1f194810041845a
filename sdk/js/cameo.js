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
//
// The SDK is split by job into the cameo_*.js modules beside this one; this module is the one
// to import, and re-exports them all.

import { CameoError, Failed, NOT_INITIALISED, witError } from "./cameo_errors.js";
import { Config, Output } from "./cameo_events.js";

export { CameoError, InvalidInput, Failed } from "./cameo_errors.js";
export { utf8Encode, utf8Decode } from "./cameo_utf8.js";
export { parseJson, jsonField } from "./cameo_json.js";
export { JsonNumber, kind, isNumber, toNumber, jsonSame, jsonPointer } from "./cameo_json_value.js";
export { formatFloat, stringifyJson } from "./cameo_json_write.js";
export { event, valueStr, valueJson, Output, Config } from "./cameo_events.js";
export { isAlnum, lowerWord, words } from "./cameo_text.js";
export {
    stateGet, statePut, stateDelete, stateScan, stateGetU64, statePutU64, registerTimer, log,
} from "./cameo_host.js";
export { WindowOperator, exportWindowed } from "./cameo_window.js";

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
