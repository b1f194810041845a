"""cameo_host: the host's imports (state, timers, log) over strings or bytes (part of the
cameo Python SDK; import it through `cameo`)."""

from wit_world.imports import log as _log
from wit_world.imports import state as _state
from wit_world.imports import timers as _timers

from cameo_errors import Failed

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
