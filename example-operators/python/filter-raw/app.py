"""filter-raw: the `min` test of example-operators/python/filter written against the bindings
componentize-py generates, without the cameo SDK: the baseline `cameo bench languages`
measures the SDK against. Config: `field` (a top-level field name) and `min` (a number); keeps
the events whose JSON value has that field holding a number >= min."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.types import OperatorError_InvalidInput

_config = None


class Handler(exports.Handler):
    def init(self, config):
        global _config
        try:
            parsed = json.loads(config)
            field, minimum = parsed["field"], parsed["min"]
        except (ValueError, KeyError, TypeError):
            raise Err(OperatorError_InvalidInput("config needs a string `field` and a number `min`"))
        if not isinstance(field, str) or isinstance(minimum, bool) or not isinstance(minimum, (int, float)):
            raise Err(OperatorError_InvalidInput("config needs a string `field` and a number `min`"))
        _config = (field, float(minimum))

    def process(self, batch):
        if _config is None:
            raise Err(OperatorError_InvalidInput("operator is not initialised"))
        field, minimum = _config
        kept = []
        for event in batch:
            try:
                value = json.loads(bytes(event.value))
            except ValueError as err:
                raise Err(OperatorError_InvalidInput(f"event value is not valid JSON: {err}"))
            found = value.get(field) if isinstance(value, dict) else None
            if isinstance(found, (int, float)) and not isinstance(found, bool) and found >= minimum:
                kept.append(event)
        return kept

    def on_timer(self, key, time):
        return []
