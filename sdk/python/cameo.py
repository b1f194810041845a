"""cameo: write cameo stream operators in Python.

An operator is a subclass of `Operator`, exported as the module's `Handler`:

    import cameo

    class Upper(cameo.Operator):
        def init(self, config):
            self.suffix = config.get_str("suffix") or ""

        def process(self, event, out):
            out.emit(cameo.event(cameo.value_str(event).upper() + self.suffix))

    Handler = cameo.export(Upper)

componentize-py creates a new handler object for every call, so nothing kept on a handler
survives from `init` to `process`; `export` keeps the one operator instance in a module global
instead, and `self` in `init`, `process` and `on_timer` is that instance. Raise
`InvalidInput` (the input cannot be understood) or `Failed` to fail a call: the host sends
its batch to the dead-letter output and discards the state writes it made. Any other
exception traps, as a panic does in Rust: the host re-creates the instance (calling `init`
again) and keeps the state.

The text and JSON helpers follow the Rust SDK exactly, whatever Python's own rules are:
`words` splits on the characters that are not alphanumeric for Rust (Python's `isalnum`
misses combining marks) and lower-cases as Rust's `to_lowercase`; `loads` refuses what
serde_json refuses (NaN, Infinity, numbers out of the f64 range, lone surrogates, invalid
UTF-8, more than 128 levels of nesting) and turns integers that fit neither an i64 nor a u64
into floats; `dumps` writes serde_json's compact form with sorted keys.

The SDK is split by job into the cameo_*.py modules beside this one; this module is the one to
import, and re-exports them all.
"""


from wit_world import exports as _exports
from wit_world.imports.types import (
    Event,
    Header,
    Level,
    OperatorError_Failed,
    OperatorError_InvalidInput,
)

from cameo_errors import NOT_INITIALISED as _NOT_INITIALISED
from cameo_errors import Error, Failed, InvalidInput
from cameo_errors import wit_error as _wit_error
from cameo_events import Config, Output, event, value_json, value_str
from cameo_host import (
    log,
    register_timer,
    state_delete,
    state_get,
    state_get_u64,
    state_put,
    state_put_u64,
    state_scan,
)
from cameo_json import dumps, format_float, json_field, json_pointer, json_same, kind, loads
from cameo_text import lower_word, words
from cameo_window import WindowOperator, export_windowed


__all__ = [
    "Operator", "Config", "Output", "Error", "InvalidInput", "Failed", "Event", "Header",
    "Level", "event", "export", "value_str", "value_json", "loads", "dumps", "format_float", "kind",
    "json_pointer", "json_same", "words", "lower_word", "state_get", "state_put",
    "state_delete", "state_scan", "json_field", "state_get_u64", "state_put_u64", "register_timer", "log",
    "WindowOperator", "export_windowed",
]


# --- the operator and its export -------------------------------------------------------------


class Operator:
    """Base class of an operator. The host creates one instance per operator instance and calls
    `init` once, then `process_batch` for every batch and `on_timer` for every timer due."""

    def init(self, config):
        """Reads the configuration (a `Config`); raise `InvalidInput` to refuse it."""

    def process(self, event, out):
        """Processes one event, emitting results with `out.emit`."""
        raise Failed(f"{type(self).__name__} does not implement process")

    def process_batch(self, batch, out):
        """Processes a batch in arrival order; the default calls `process` for each event."""
        for item in batch:
            self.process(item, out)

    def on_timer(self, key, time, out):
        """Called when the watermark reaches a timer registered with `register_timer`."""


# The one operator instance: module globals outlive the per-call handler objects.
_instance = None


def export(operator_class):
    """The `Handler` class componentize-py exports for `operator_class`."""

    class Handler(_exports.Handler):
        def init(self, config):
            global _instance
            _instance = None
            try:
                instance = operator_class()
                instance.init(Config.from_json(config))
            except Error as error:
                raise _wit_error(error) from None
            _instance = instance

        def process(self, batch):
            out = Output()
            try:
                if _instance is None:
                    raise Failed(_NOT_INITIALISED)
                _instance.process_batch(batch, out)
            except Error as error:
                raise _wit_error(error) from None
            return out.events

        def on_timer(self, key, time):
            out = Output()
            try:
                if _instance is None:
                    raise Failed(_NOT_INITIALISED)
                _instance.on_timer(key, time, out)
            except Error as error:
                raise _wit_error(error) from None
            return out.events

    return Handler
