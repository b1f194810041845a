"""cameo_events: events, the output of a call and the operator's config (part of the cameo
Python SDK; import it through `cameo`)."""

from wit_world.imports.types import Event

from cameo_errors import InvalidInput
from cameo_json import kind, loads

# --- events ----------------------------------------------------------------------------------


def event(value, key=None, event_time=0, headers=()):
    """A new event; str values and keys are encoded as UTF-8."""
    if type(value) is str:
        value = value.encode("utf-8")
    elif type(value) is not bytes:
        value = bytes(value)
    if type(key) is str:
        key = key.encode("utf-8")
    return Event(key, value, event_time, list(headers) if headers else [])


def value_str(event):
    """The event's value as text; `InvalidInput` if it is not UTF-8."""
    try:
        return bytes(event.value).decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"event value is not UTF-8: {err}") from None


def value_json(event):
    """The event's value parsed as JSON (see `loads`)."""
    return loads(bytes(event.value), "event value")


class Output:
    """The events a call sends downstream, in the order they are emitted."""

    def __init__(self):
        self.events = []
        # The list's own append: no Python frame per emitted event.
        self.emit = self.events.append

    def emit(self, event):
        """Sends `event` downstream after the events emitted before it."""
        self.events.append(event)


class Config:
    """The operator's `config` table from the job spec, with typed getters whose errors name
    the field (the same messages as the Rust SDK)."""

    def __init__(self, fields):
        self.fields = fields

    @staticmethod
    def from_json(text):
        value = loads(text, "config")
        if value is None:
            return Config({})
        if not isinstance(value, dict):
            raise InvalidInput(f"config must be a JSON object, got {kind(value)}")
        return Config(value)

    def value(self, name):
        """The field, None when missing or null."""
        return self.fields.get(name)

    def _typed(self, name, expected, accepts):
        value = self.fields.get(name)
        if value is None:
            return None
        if not accepts(value):
            raise InvalidInput(f"config field `{name}` must be {expected}, got {kind(value)}")
        return value

    def get_str(self, name):
        return self._typed(name, "a string", lambda v: isinstance(v, str))

    def get_f64(self, name):
        value = self._typed(
            name, "a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
        )
        return None if value is None else float(value)

    def get_bool(self, name):
        return self._typed(name, "a boolean", lambda v: isinstance(v, bool))

    def require_str(self, name):
        value = self.get_str(name)
        if value is None:
            raise InvalidInput(f"config field `{name}` is required but missing")
        return value
