// wordcount: counts words across the whole stream and emits a running count for every word
// occurrence; the same operator as example-operators/rust/wordcount. The text of an event is
// its value's `text` field when the value is a JSON object with a string `text` field, else
// the whole value as UTF-8. Words are runs of alphanumeric characters, lower-cased. Counts
// live in host state (key: the word; value: 8 bytes little-endian), read at most once per
// word and batch and written back once at the end of the batch.
import * as cameo from "./cameo.js";

function textOf(event) {
    const text = cameo.valueStr(event);
    let value = null;
    try {
        value = cameo.parseJson(text);
    } catch (error) {
        if (!(error instanceof cameo.InvalidInput)) throw error;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value) && typeof value.text === "string"
        && Object.prototype.hasOwnProperty.call(value, "text")) {
        return value.text;
    }
    return text;
}

class WordCount extends cameo.Operator {
    processBatch(batch, out) {
        // Per word of this batch: its UTF-8 bytes (the state key and the key of its events)
        // and its count.
        const counts = new Map();
        for (const event of batch) {
            for (const word of cameo.words(textOf(event))) {
                let entry = counts.get(word);
                if (entry === undefined) {
                    const key = cameo.utf8Encode(word);
                    entry = { key, count: cameo.stateGetU64(key) };
                    counts.set(word, entry);
                }
                entry.count += 1;
                out.emit(cameo.event(`{"count":${entry.count},"word":"${word}"}`, entry.key, event.eventTime));
            }
        }
        for (const { key, count } of counts.values()) cameo.statePutU64(key, count);
    }
}

export const handler = cameo.exportOperator(WordCount);
