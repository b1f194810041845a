// cameo_window.js: operators whose windows the host manages (part of the cameo JavaScript SDK;
// import it through cameo.js).

import { CameoError, Failed, InvalidInput, NOT_INITIALISED, witError } from "./cameo_errors.js";
import { utf8Decode, utf8Encode } from "./cameo_utf8.js";
import { parseJson } from "./cameo_json.js";
import { stringifyJson } from "./cameo_json_write.js";
import { Config, Output } from "./cameo_events.js";

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
