"""filter: keeps the events whose JSON value has a field that equals a configured value or
reaches a configured minimum, and drops the rest; the same operator as
example-operators/rust/filter (see its docs for the config: `field`, `equals`, `min`)."""

import cameo


def as_i64(value):
    return isinstance(value, int) and -(2**63) <= value < 2**63


def json_equal(a, b):
    """JSON equality, except that two numbers compare by value (2 equals 2.0)."""
    if is_number(a) and is_number(b):
        if as_i64(a) and as_i64(b) or isinstance(a, int) and isinstance(b, int):
            return a == b
        return float(a) == float(b)
    return cameo.json_same(a, b)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Filter(cameo.Operator):
    def init(self, config):
        self.field = config.require_str("field")
        self.equals = config.value("equals")
        self.min = config.get_f64("min")
        if self.equals is None and self.min is None:
            raise cameo.InvalidInput("config needs `equals` or `min` (or both) besides `field`")

    def process(self, event, out):
        if self.keeps(event):
            out.emit(event)

    def keeps(self, event):
        if self.field.startswith("/"):
            value = cameo.value_json(event)
            if not isinstance(value, dict):
                raise cameo.InvalidInput("event value is not a JSON object")
            found = cameo.json_pointer(value, self.field)
        else:
            # One field read strictly, the rest only scanned, as the Rust filter does.
            try:
                found = cameo.json_field(event, self.field)
            except cameo.InvalidInput:
                try:
                    not_object = not isinstance(cameo.value_json(event), dict)
                except cameo.InvalidInput:
                    not_object = False
                if not_object:
                    raise cameo.InvalidInput("event value is not a JSON object") from None
                raise
        # A missing field drops the event; so does a null one, which no test can pass.
        if found is None:
            return False
        if self.equals is not None and not json_equal(found, self.equals):
            return False
        if self.min is not None and not (is_number(found) and float(found) >= self.min):
            return False
        return True


Handler = cameo.export(Filter)
