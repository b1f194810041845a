// window-agg: the sum, count, minimum and maximum of a numeric field per key and window, over
// windows the host manages (tumbling, sliding or session, as the job spec says); the same
// operator as example-operators/rust/window-agg. A fired pane emits
//
//     {"count":3,"key":"sensor-1","max":30,"min":2,"sum":42,"window_end":60000,"window_start":0}
//
// keyed by the pane's key, at event time `window_end - 1`. Sums, minima and maxima are
// integers while every value is an integer that fits in 64 bits (and the sum does), floats
// otherwise; a sum past the f64 range is null, and stays null for the rest of its pane.
// Numbers are `JsonNumber`s: "i"/"u" hold exact BigInts, "f" a Number. Config:
// `field` (default "value"), the numeric field of the JSON event value.
import * as cameo from "./cameo.js";

const I64_MIN = -9223372036854775808n;
const I64_MAX = 9223372036854775807n;

const isInt = (n) => n.kind !== "f";
const int = (big) => new cameo.JsonNumber(big < 0n ? "i" : "u", big);
const float = (x) => new cameo.JsonNumber("f", x);

/** a + b, exact while both are integers and the sum fits an i64. null for a sum past the
 * f64 range, which stays null: no later value brings it back, as an infinite f64 sum stays
 * infinite. */
function add(a, b) {
    if (a === null || b === null) return null;
    if (isInt(a) && isInt(b)) {
        const sum = a.value + b.value;
        if (sum >= I64_MIN && sum <= I64_MAX) return int(sum);
    }
    const sum = a.toNumber() + b.toNumber();
    return Number.isFinite(sum) ? float(sum) : null;
}

/** `candidate` if it is more extreme than `current` (or there is none), else `current`. */
function extreme(current, candidate, smaller) {
    if (current === null) return candidate;
    const [c, d] = isInt(current) && isInt(candidate)
        ? [current.value, candidate.value]
        : [current.toNumber(), candidate.toNumber()];
    return (smaller ? d < c : d > c) ? candidate : current;
}

class WindowAgg extends cameo.WindowOperator {
    init(config) {
        this.field = config.getStr("field") ?? "value";
    }

    create() {
        return { sum: int(0n), count: int(0n), min: null, max: null };
    }

    add(acc, event) {
        let amount;
        try {
            amount = cameo.jsonField(event, this.field, { exact: true });
        } catch (error) {
            if (!(error instanceof cameo.InvalidInput)) throw error;
        }
        if (!(amount instanceof cameo.JsonNumber)) {
            throw new cameo.InvalidInput(`event value has no numeric field \`${this.field}\``);
        }
        if (amount.kind === "u" && amount.value > I64_MAX) amount = float(Number(amount.value));
        acc.sum = add(acc.sum, amount);
        acc.count = int(acc.count.value + 1n);
        acc.min = extreme(acc.min, amount, true);
        acc.max = extreme(acc.max, amount, false);
        return acc;
    }

    merge(a, b) {
        return {
            sum: add(a.sum, b.sum),
            count: int(a.count.value + b.count.value),
            min: b.min === null ? a.min : extreme(a.min, b.min, true),
            max: b.max === null ? a.max : extreme(a.max, b.max, false),
        };
    }

    fire(key, window, acc, out) {
        const result = {
            key: key === undefined || key === null ? null : cameo.utf8Decode(key),
            window_start: window.start,
            window_end: window.end,
            sum: acc.sum,
            count: acc.count,
            min: acc.min,
            max: acc.max,
        };
        const end = window.end;
        const time = typeof end === "bigint" ? end - 1n : end - 1;
        out.emit(cameo.event(cameo.stringifyJson(result), key, time));
    }
}

export const { handler, windowed } = cameo.exportWindowed(WindowAgg);
