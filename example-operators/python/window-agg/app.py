"""window-agg: the sum, count, minimum and maximum of a numeric field per key and window, over
windows the host manages (tumbling, sliding or session, as the job spec says); the same
operator as example-operators/rust/window-agg. A fired pane emits

    {"count":3,"key":"sensor-1","max":30,"min":2,"sum":42,"window_end":60000,"window_start":0}

keyed by the pane's key, at event time `window_end - 1`. Sums, minima and maxima are integers
while every value is an integer that fits in 64 bits (and the sum does), floats otherwise; a
sum past the f64 range is null, and stays null for the rest of its pane. Config: `field` (default "value"), the numeric field of the JSON event value."""

import math

import cameo

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


def add(a, b):
    """a + b, exact while both are integers and the sum fits an i64. None (written `null`) for
    a sum past the f64 range, which stays None: no later value brings it back, as an infinite
    f64 sum stays infinite."""
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int) and _I64_MIN <= a + b <= _I64_MAX:
        return a + b
    total = float(a) + float(b)
    return total if math.isfinite(total) else None


def extreme(current, candidate, smaller):
    """`candidate` if it is more extreme than `current` (or there is none), else `current`."""
    if current is None:
        return candidate
    if isinstance(current, int) and isinstance(candidate, int):
        better = candidate < current if smaller else candidate > current
    else:
        better = float(candidate) < float(current) if smaller else float(candidate) > float(current)
    return candidate if better else current


class WindowAgg(cameo.WindowOperator):
    def init(self, config):
        self.field = config.get_str("field") or "value"

    def create(self):
        return {"sum": 0, "count": 0, "min": None, "max": None}

    def add(self, acc, event):
        try:
            amount = cameo.json_field(event, self.field)
        except cameo.InvalidInput:
            amount = None
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise cameo.InvalidInput(f"event value has no numeric field `{self.field}`")
        if isinstance(amount, int) and amount > _I64_MAX:
            amount = float(amount)
        acc["sum"] = add(acc["sum"], amount)
        acc["count"] += 1
        acc["min"] = extreme(acc["min"], amount, True)
        acc["max"] = extreme(acc["max"], amount, False)
        return acc

    def merge(self, a, b):
        return {
            "sum": add(a["sum"], b["sum"]),
            "count": a["count"] + b["count"],
            "min": a["min"] if b["min"] is None else extreme(a["min"], b["min"], True),
            "max": a["max"] if b["max"] is None else extreme(a["max"], b["max"], False),
        }

    def fire(self, key, window, acc, out):
        result = {
            "key": None if key is None else bytes(key).decode("utf-8", "replace"),
            "window_start": window.start,
            "window_end": window.end,
            "sum": acc["sum"],
            "count": acc["count"],
            "min": acc["min"],
            "max": acc["max"],
        }
        out.emit(cameo.event(cameo.dumps(result), key=key, event_time=max(window.end - 1, -(2**63))))


Handler, Windowed = cameo.export_windowed(WindowAgg)
