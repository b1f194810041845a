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
"""

import json as _json
import re as _re
from bisect import bisect_right as _bisect_right

from componentize_py_types import Err as _Err
from wit_world import exports as _exports
from wit_world.imports import log as _log
from wit_world.imports import state as _state
from wit_world.imports import timers as _timers
from wit_world.imports.types import (
    Event,
    Header,
    Level,
    OperatorError_Failed,
    OperatorError_InvalidInput,
)

import cameo_unicode as _unicode

__all__ = [
    "Operator", "Config", "Output", "Error", "InvalidInput", "Failed", "Event", "Header",
    "Level", "event", "export", "value_str", "value_json", "loads", "dumps", "format_float", "kind",
    "json_pointer", "json_same", "words", "lower_word", "state_get", "state_put",
    "state_delete", "state_scan", "json_field", "state_get_u64", "state_put_u64", "register_timer", "log",
    "WindowOperator", "export_windowed",
]


class Error(Exception):
    """A failed call; use `InvalidInput` or `Failed`."""

    def message(self):
        return str(self.args[0]) if self.args else ""


class InvalidInput(Error):
    """The input could not be understood (bad JSON, a missing field); retrying will not help."""


class Failed(Error):
    """The operator failed for another reason."""


def _wit_error(error):
    if isinstance(error, InvalidInput):
        return _Err(OperatorError_InvalidInput(error.message()))
    return _Err(OperatorError_Failed(error.message()))


# --- JSON, as serde_json does it -------------------------------------------------------------

_I64_MIN, _U64_MAX = -(2**63), 2**64 - 1


def _parse_constant(name):
    raise ValueError("expected value")


def _parse_float(text):
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return number


def _parse_int(text):
    number = int(text)
    if _I64_MIN <= number <= _U64_MAX:
        return number
    return _parse_float(text)


def _check(value, depth):
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("lone surrogate in hex escape") from None
    elif isinstance(value, (list, dict)):
        depth += 1
        if depth > 127:
            raise ValueError("recursion limit exceeded")
        items = value if isinstance(value, list) else [*value.keys(), *value.values()]
        for item in items:
            _check(item, depth)


# The engine's own `json` (no hooks) reads most text exactly as serde_json does; where it
# may not, the strict path below reads the text again and gives serde_json's result or error.
_PLAIN = _json.JSONDecoder(parse_constant=_parse_constant)
_DOUBTFUL = object()


def _plain(text):
    """`text` parsed by the engine's `json` without hooks, `_DOUBTFUL` on any error (whose
    message the strict path words)."""
    try:
        return _PLAIN.decode(text)
    except (ValueError, RecursionError):
        return _DOUBTFUL


def _exact(value, depth):
    """Whether `value`, parsed by `_plain` from text without `\\u` escapes (the only way to a
    lone surrogate), is what serde_json reads: every integer fits an i64 or a u64, every float
    is finite, and containers nest at most 127 deep (`depth` of them enclose `value`)."""
    kind_ = type(value)
    if kind_ is int:
        return _I64_MIN <= value <= _U64_MAX
    if kind_ is float:
        return value - value == 0.0
    if kind_ is dict:
        value = value.values()
    elif kind_ is not list:
        return True
    if depth >= 127:
        return False
    for item in value:
        kind_ = type(item)
        if kind_ is str or item is None or kind_ is bool:
            continue
        if kind_ is int:
            if not _I64_MIN <= item <= _U64_MAX:
                return False
        elif not _exact(item, depth + 1):
            return False
    return True


def _text(data):
    """The text of `data` (str, or bytes that must be UTF-8); `ValueError` when the bytes are
    not UTF-8 or the str holds a lone surrogate (which only a str can)."""
    if isinstance(data, str):
        if not data.isascii():
            data.encode("utf-8")
        return data
    return data.decode("utf-8")


def loads(data, what="JSON"):
    """Parses JSON text (str, or bytes that must be UTF-8) as serde_json would; raises
    `InvalidInput` saying "<what> is not valid JSON: ..." when it would refuse it."""
    if isinstance(data, (str, bytes, bytearray)):
        try:
            text = _text(data)
        except ValueError:
            text = "\\u"
        if "\\u" not in text:
            try:
                value = _PLAIN.decode(text)
                if _exact(value, 0):
                    return value
            except (ValueError, RecursionError):
                pass
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        value = _json.loads(
            text,
            parse_constant=_parse_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
        _check(value, 0)
        return value
    except (ValueError, RecursionError) as err:
        raise InvalidInput(f"{what} is not valid JSON: {err}") from None


def _lenient_int(text):
    number = int(text)
    return number if _I64_MIN <= number <= _U64_MAX else float(text)


def json_field(event, name):
    """One top-level field of the event's value, a JSON object, as the Rust SDK's
    `Event::json_field` reads it: the field itself strictly (as `loads`), the other fields
    only scanned for syntax (a lone surrogate, a number out of range or deep nesting there is
    let through); None when there is no such field (the last of repeated ones wins).
    `InvalidInput` saying "cannot read field `name` of the event value: ..." otherwise."""

    try:
        text = bytes(event.value).decode("utf-8")
    except ValueError as err:
        raise _field_error(name, err) from None
    value = _plain(text)
    if type(value) is dict:
        found = value.get(name)
        kind_ = type(found)
        if found is None or kind_ is bool:
            return found
        if kind_ is str:
            # Text from UTF-8 holds a lone surrogate only through an escape.
            if found.isascii() or "\\u" not in text:
                return found
        elif (kind_ is int or kind_ is float or "\\u" not in text) and _exact(found, 1):
            return found
    try:
        value = _json.loads(text, parse_constant=_parse_constant, parse_int=_lenient_int)
    except (ValueError, RecursionError) as err:
        raise _field_error(name, err) from None
    if not isinstance(value, dict):
        raise _field_error(name, f"invalid type: {kind(value)}, expected a JSON object")
    found = value.get(name)
    try:
        _check(found, 1)
    except ValueError as err:
        raise _field_error(name, err) from None
    return found


def _field_error(name, why):
    return InvalidInput(f"cannot read field `{name}` of the event value: {why}")


def dumps(value):
    """JSON text as serde_json writes it: compact, keys sorted, non-ASCII kept, floats in
    Rust's shortest form (`1e+16`, `0.00001`, `1.5`); a float JSON cannot hold (infinity, NaN)
    is `null`, as serde_json writes it."""
    if not _has_float(value):
        return _json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return "".join(_dump_parts(value))


def _has_float(value):
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(map(_has_float, value))
    if isinstance(value, dict):
        return any(map(_has_float, value.values()))
    return False


def _dump_parts(value):
    if isinstance(value, float):
        yield format_float(value)
    elif isinstance(value, list):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from _dump_parts(item)
        yield "]"
    elif isinstance(value, dict):
        yield "{"
        for i, name in enumerate(sorted(value)):
            if i:
                yield ","
            yield _json.dumps(name, ensure_ascii=False)
            yield ":"
            yield from _dump_parts(value[name])
        yield "}"
    else:
        yield _json.dumps(value, ensure_ascii=False)


def format_float(number):
    """A float as serde_json writes it: the shortest digits that read back exactly,
    positional from 1e-5 up to below 1e16 (with `.0` when whole), else `<digits>e+<exp>` or
    `<digits>e-<exp>`; `null` for infinity and NaN."""
    if number != number or number in (float("inf"), float("-inf")):
        return "null"
    sign = "-" if number < 0 or (number == 0 and str(number).startswith("-")) else ""
    digits, _, exponent = repr(abs(number)).partition("e")
    mantissa_int, _, mantissa_frac = digits.partition(".")
    if exponent:
        digits = (mantissa_int + mantissa_frac).rstrip("0") or "0"
        point = int(exponent) + len(mantissa_int)
    else:
        whole = (mantissa_int + mantissa_frac).lstrip("0")
        point = len(mantissa_int) if mantissa_int != "0" else -(len(mantissa_frac) - len(mantissa_frac.lstrip("0")))
        digits = whole.rstrip("0") or "0"
        if digits == "0":
            return sign + "0.0"
    # `point`: where the decimal point goes relative to the digits (ryu's kk).
    length = len(digits)
    if 0 <= point - length and point <= 16:
        return sign + digits + "0" * (point - length) + ".0"
    if 0 < point <= 16:
        return sign + digits[:point] + "." + digits[point:]
    if -5 < point <= 0:
        return sign + "0." + "0" * (-point) + digits
    exponent = f"+{point - 1}" if point > 1 else f"{point - 1}"
    if length == 1:
        return f"{sign}{digits}e{exponent}"
    return f"{sign}{digits[0]}.{digits[1:]}e{exponent}"


def kind(value):
    """A JSON value's type in words, as the Rust SDK's messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a fractional number"
    if isinstance(value, int):
        return "a negative number" if value < 0 else "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def json_pointer(value, pointer):
    """The value at a JSON Pointer such as "/order/total" (RFC 6901), or None."""
    if pointer == "":
        return value
    if not pointer.startswith("/"):
        return None
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict):
            if token not in value:
                return None
            value = value[token]
        elif isinstance(value, list):
            if not token.isascii() or not token.isdigit() or (token.startswith("0") and token != "0"):
                return None
            index = int(token)
            if index >= len(value):
                return None
            value = value[index]
        else:
            return None
    return value


def json_same(a, b):
    """serde_json's equality: 2 is not 2.0, true is not 1, objects compare as maps."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, float) and isinstance(b, float) and a == b
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_same, a, b))
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_same(v, b[k]) for k, v in a.items())
        )
    return type(a) is type(b) and a == b


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


# --- text, as Rust splits and lower-cases it -------------------------------------------------

_ASCII_WORD = _re.compile(r"[A-Za-z0-9]+")
_ALNUM_STARTS = _unicode.ALNUM[0::2]
_ALNUM_ENDS = _unicode.ALNUM[1::2]
_CASED_STARTS = _unicode.CASED[0::2]
_CASED_ENDS = _unicode.CASED[1::2]


def _in(starts, ends, code):
    i = _bisect_right(starts, code) - 1
    return i >= 0 and code <= ends[i]


def _is_alnum(char):
    return _in(_ALNUM_STARTS, _ALNUM_ENDS, ord(char))


def _is_cased(char):
    return _in(_CASED_STARTS, _CASED_ENDS, ord(char))


def lower_word(word):
    """The lower case of a word (alphanumeric characters only), as Rust's `to_lowercase`."""
    if word.isascii():
        return word.lower()
    out = []
    for i, char in enumerate(word):
        if char == "\u03a3":
            before = i > 0 and _is_cased(word[i - 1])
            after = i + 1 < len(word) and _is_cased(word[i + 1])
            out.append("\u03c2" if before and not after else "\u03c3")
        else:
            out.append(_unicode.LOWER.get(ord(char), char))
    return "".join(out)


def words(text):
    """The lower-cased words of `text`, split on every character that is not alphanumeric
    (Rust's `char::is_alphanumeric`)."""
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    found, start = [], None
    for i, char in enumerate(text):
        if _is_alnum(char):
            if start is None:
                start = i
        elif start is not None:
            found.append(lower_word(text[start:i]))
            start = None
    if start is not None:
        found.append(lower_word(text[start:]))
    return found


# --- host imports ----------------------------------------------------------------------------


def state_get(key):
    """The value stored under `key` (bytes or str), None if none."""
    return _state.get(_bytes(key))


def state_put(key, value):
    _state.put(_bytes(key), _bytes(value))


def state_delete(key):
    _state.delete(_bytes(key))


def state_scan(prefix, start_after=None, limit=10_000):
    """Up to `limit` (key, value) pairs whose key starts with `prefix`, in key order."""
    after = None if start_after is None else _bytes(start_after)
    return _state.scan(_bytes(prefix), after, limit)


def state_get_u64(key):
    """A count stored by `state_put_u64` (8 bytes little-endian), 0 if none; `Failed` when
    the stored value is not 8 bytes."""
    stored = _state.get(key.encode("utf-8") if type(key) is str else bytes(key))
    if stored is None:
        return 0
    if len(stored) != 8:
        shown = key if isinstance(key, str) else bytes(key).decode("utf-8", "replace")
        raise Failed(f"state entry for `{shown}` holds {len(stored)} bytes, not an 8-byte count")
    return int.from_bytes(stored, "little")


def state_put_u64(key, count):
    """Stores a count as 8 bytes little-endian under `key` (bytes or str)."""
    _state.put(key.encode("utf-8") if type(key) is str else bytes(key), count.to_bytes(8, "little"))


def register_timer(key, time):
    """Asks for `on_timer(key, time)` once the watermark reaches `time`; key may be None."""
    _timers.register(None if key is None else _bytes(key), time)


def log(level, message):
    """Writes a log line; level is a `Level` (Level.INFO, ...)."""
    _log.log(level, message)


def _bytes(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


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


_NOT_INITIALISED = "operator is not initialised: init was not called, or it returned an error"

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


# --- host-managed windows --------------------------------------------------------------------

_PROCESS_ON_WINDOWED = (
    "this operator is windowed (exported with cameo.export_windowed): give it a `window` in "
    "the job spec, for example window = { kind = \"tumbling\", size_ms = 60000 }, so that the "
    "host assigns its events to windows"
)
_TIMER_ON_WINDOWED = (
    "this operator is windowed (exported with cameo.export_windowed) and does not handle "
    "timers; the host fires its windows"
)
_MERGE_MISSING = (
    "this window operator does not implement WindowOperator.merge, which session windows need "
    "to combine overlapping sessions; implement it, or use a tumbling or sliding window"
)


class WindowOperator:
    """Base class of an operator whose windows the host manages: it only says how events fold
    into a pane's accumulator and what a complete pane emits. The job spec gives it a
    `window`; the host keeps one accumulator per pane (one key in one window) and calls
    `add` for each event of a batch (once per window it falls in), `merge` when two session
    windows of a key come to overlap, and `fire` once the watermark passes the end of a pane
    (again after a late event within the allowed lateness updates it).

    An accumulator is any JSON value (`dumps` stores it, `loads` reads it back; integers and
    floats keep their kind). Keep everything a result depends on in it: the host keeps it
    across traps and discards the changes of a failed batch."""

    def init(self, config):
        """Reads the configuration (a `Config`); raise `InvalidInput` to refuse it."""

    def create(self):
        """The accumulator of a new pane."""
        return None

    def add(self, acc, event):
        """Returns `acc` with `event` folded in."""
        raise Failed(f"{type(self).__name__} does not implement add")

    def merge(self, a, b):
        """The accumulator of the union of two session windows (`a` the earlier)."""
        raise Failed(_MERGE_MISSING)

    def fire(self, key, window, acc, out):
        """Emits the result of a pane: `key` (bytes or None), `window` (`.start`, `.end` in
        ms; the usual event time of a result is `window.end - 1`) and its accumulator."""
        raise Failed(f"{type(self).__name__} does not implement fire")


def _describe_key(key):
    return "no key" if key is None else "key " + repr(bytes(key).decode("utf-8", "replace"))


def _acc_value(data, what):
    try:
        return _json.loads(bytes(data).decode("utf-8"))
    except (ValueError, RecursionError) as err:
        raise Failed(f"the accumulator of {what} is not what this operator stores: {err}") from None


def _acc_bytes(acc):
    return _json.dumps(acc, separators=(",", ":")).encode("utf-8")


def export_windowed(operator_class):
    """The `Handler` and `Windowed` classes componentize-py exports for `operator_class`, a
    `WindowOperator`: `Handler, Windowed = cameo.export_windowed(MyOperator)`. `cameo
    operator build` builds such a module against the windowed-operator world."""

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
            raise _wit_error(Failed(_PROCESS_ON_WINDOWED))

        def on_timer(self, key, time):
            raise _wit_error(Failed(_TIMER_ON_WINDOWED))

    def _operator():
        if _instance is None:
            raise Failed(_NOT_INITIALISED)
        return _instance

    class Windowed(_exports.Windowed):
        def accumulate(self, panes, events):
            try:
                operator = _operator()
                accs = []
                for pane in panes:
                    if pane.acc is None:
                        accs.append(operator.create())
                    else:
                        what = f"{_describe_key(pane.key)}, window [{pane.window.start}, {pane.window.end})"
                        accs.append(_acc_value(pane.acc, what))
                for position, (index, event) in enumerate(events):
                    if index >= len(accs):
                        raise Failed(
                            f"event {position} of the batch names pane {index}, but the batch "
                            f"has {len(accs)} panes"
                        )
                    accs[index] = operator.add(accs[index], event)
                return [_acc_bytes(acc) for acc in accs]
            except Error as error:
                raise _wit_error(error) from None

        def merge(self, key, a, b):
            try:
                operator = _operator()
                what = _describe_key(key)
                merged = operator.merge(
                    _acc_value(a, f"the earlier session of {what}"),
                    _acc_value(b, f"the later session of {what}"),
                )
                return _acc_bytes(merged)
            except Error as error:
                raise _wit_error(error) from None

        def fire(self, key, window, acc):
            out = Output()
            try:
                operator = _operator()
                what = f"{_describe_key(key)}, window [{window.start}, {window.end})"
                operator.fire(key, window, _acc_value(acc, what), out)
            except Error as error:
                raise _wit_error(error) from None
            return out.events

    return Handler, Windowed
