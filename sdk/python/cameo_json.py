"""cameo_json: JSON read and written as serde_json does it (part of the cameo Python SDK;
import it through `cameo`)."""

import json as _json

from cameo_errors import InvalidInput

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
