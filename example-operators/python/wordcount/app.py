"""wordcount: counts words across the whole stream and emits a running count for every word
occurrence; the same operator as example-operators/rust/wordcount. The text of an event is
its value's `text` field when the value is a JSON object with a string `text` field, else the
whole value as UTF-8. Words are runs of alphanumeric characters, lower-cased. Counts live in
host state (key: the word; value: 8 bytes little-endian), read at most once per word and
batch and written back once at the end of the batch."""

import cameo


def text_of(event):
    text = cameo.value_str(event)
    try:
        value = cameo.loads(text, "event value")
    except cameo.InvalidInput:
        return text
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"]
    return text


class WordCount(cameo.Operator):
    def process_batch(self, batch, out):
        counts = {}
        for event in batch:
            for word in cameo.words(text_of(event)):
                count = counts.get(word)
                if count is None:
                    count = cameo.state_get_u64(word)
                count += 1
                counts[word] = count
                value = '{"count":%d,"word":"%s"}' % (count, word)
                out.emit(cameo.event(value, word, event.event_time))
        for word, count in counts.items():
            cameo.state_put_u64(word, count)


Handler = cameo.export(WordCount)
