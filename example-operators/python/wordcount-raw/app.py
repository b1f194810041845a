"""wordcount-raw: example-operators/python/wordcount written against the bindings
componentize-py generates, without the cameo SDK: the baseline `cameo bench languages`
measures the SDK against. The text of an event is its value's `text` field when the value is
a JSON object with a string `text` field, else the whole value; words are runs of ASCII
letters and digits (Python's `isalnum` for other text), lower-cased by Python's `lower`, and
counted in host state (8 bytes little-endian per word). Unlike the SDK it follows Python's
rules, not Rust's, for JSON and Unicode."""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import state
from wit_world.imports.types import Event, OperatorError_InvalidInput

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_WORD = re.compile(r"[^\W_]+")


def _text(event):
    try:
        text = bytes(event.value).decode("utf-8")
    except UnicodeDecodeError:
        raise Err(OperatorError_InvalidInput("event value is not UTF-8"))
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"]
    return text


class Handler(exports.Handler):
    def init(self, config):
        pass

    def process(self, batch):
        counts = {}
        out = []
        for event in batch:
            text = _text(event)
            found = _ASCII_WORD.findall(text) if text.isascii() else _WORD.findall(text)
            for word in found:
                word = word.lower().encode("utf-8")
                count = counts.get(word)
                if count is None:
                    stored = state.get(word)
                    count = 0 if stored is None else int.from_bytes(stored, "little")
                count += 1
                counts[word] = count
                value = b'{"count":%d,"word":"%s"}' % (count, word)
                out.append(Event(key=word, value=value, event_time=event.event_time, headers=[]))
        for word, count in counts.items():
            state.put(word, count.to_bytes(8, "little"))
        return out

    def on_timer(self, key, time):
        return []
