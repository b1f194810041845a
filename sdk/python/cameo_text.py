"""cameo_text: words split and lower-cased as Rust does it (part of the cameo Python SDK;
import it through `cameo`)."""

import re as _re
from bisect import bisect_right as _bisect_right

import cameo_unicode as _unicode

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
