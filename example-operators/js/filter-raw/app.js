// filter-raw: the `min` test of example-operators/js/filter written against the component's
// imports and exports alone, without the cameo SDK: the baseline `cameo bench languages`
// measures the SDK against. Config: `field` (a top-level field name) and `min` (a number);
// keeps the events whose JSON value has that field holding a number >= min. QuickJS has no
// TextDecoder, so the value's bytes are decoded by hand.

let config = null;

/** The text of UTF-8 `bytes` (the bench's values are ASCII; others are decoded per byte). */
function text(bytes) {
    let out = "";
    for (let k = 0; k < bytes.length; k += 4096) {
        out += String.fromCharCode.apply(null, bytes.subarray(k, k + 4096));
    }
    return out;
}

const invalid = (message) => ({ tag: "invalid-input", val: message });

export const handler = {
    init(configText) {
        let parsed;
        try {
            parsed = JSON.parse(configText);
        } catch {
            throw invalid("config is not valid JSON");
        }
        if (typeof parsed?.field !== "string" || typeof parsed?.min !== "number") {
            throw invalid("config needs a string `field` and a number `min`");
        }
        config = { field: parsed.field, min: parsed.min };
    },
    process(batch) {
        if (config === null) throw invalid("operator is not initialised");
        const kept = [];
        for (const event of batch) {
            let value;
            try {
                value = JSON.parse(text(event.value));
            } catch (error) {
                throw invalid(`event value is not valid JSON: ${error.message}`);
            }
            const found = value !== null && typeof value === "object" ? value[config.field] : undefined;
            if (typeof found === "number" && found >= config.min) kept.push(event);
        }
        return kept;
    },
    onTimer(key, time) {
        return [];
    },
};
