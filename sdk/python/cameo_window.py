"""cameo_window: operators whose windows the host manages (part of the cameo Python SDK;
import it through `cameo`)."""

import json as _json

from wit_world import exports as _exports

from cameo_errors import NOT_INITIALISED as _NOT_INITIALISED
from cameo_errors import Error, Failed
from cameo_errors import wit_error as _wit_error
from cameo_events import Config, Output

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
