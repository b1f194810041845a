// wordcount: counts words across the whole stream and emits a running count for every word
// occurrence; the same operator as example-operators/rust/wordcount. The text of an event is
// its value's `text` field when the value is a JSON object with a string `text` field, else
// the whole value as UTF-8. Words are runs of alphanumeric characters, lower-cased. Counts
// live in host state (key: the word; value: 8 bytes little-endian), read at most once per
// word and batch and written back once at the end of the batch.
import * as cameo from "./cameo.js";

function textOf(event) {
    let value = null;
    try {
        value = cameo.valueJson(event);
    } catch (error) {
        if (!(error instanceof cameo.InvalidInput)) throw error;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value) && typeof value.text === "string"
        && Object.prototype.hasOwnProperty.call(value, "text")) {
        return value.text;
    }
    return cameo.valueStr(event);
}

class WordCount extends cameo.Operator {
    processBatch(batch, out) {
        const counts = new Map();
        for (const event of batch) {
            for (const word of cameo.words(textOf(event))) {
                const count = (counts.has(word) ? counts.get(word) : cameo.stateGetU64(word)) + 1;
                counts.set(word, count);
                out.emit(cameo.event(`{"count":${count},"word":"${word}"}`, word, event.eventTime));
            }
        }
        for (const [word, count] of counts) cameo.statePutU64(word, count);
    }
}

export const handler = cameo.exportOperator(WordCount);
