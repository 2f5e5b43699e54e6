"""The API's JSON parser: JSON numbers become exact Decimals, never floats.

A JSON number is decimal text; DRF's JSONParser turns ``1500.10`` into a float, which
transactions.money then has to refuse because the text it came from is already lost.
Parsing fractions with ``Decimal`` keeps the number the client wrote, so ``1500.10`` is
accepted as exactly ``1500.10`` and ``10.005`` is refused for its three places, as the
same amounts sent as strings are. A body nested deeper than Python's recursion limit
(``[[[[…]]]]``, which DRF's parser let through as a 500) is a 400 like any other body that
is not JSON. So is a number whose exponent is out of any money's or id's range
(``1e9999999999999999999`` is not a Decimal at all, and turning ``1E+300000`` into an id's
integer holds the GIL for seconds), and an object that names a key twice
(``{"amount": "1", "amount": "2"}``: a proxy in front may read the first where Python reads
the last). Everything else is DRF's JSONParser.
"""

from __future__ import annotations

import codecs
from decimal import Decimal, InvalidOperation

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        decoded = codecs.getreader(get_encoding(parser_context or {}))(stream)
        try:
            # rest_framework.utils.json.load refuses NaN and Infinity (strict JSON).
            return json.load(decoded, parse_float=_number, object_pairs_hook=_object)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None


# The largest decimal exponent taken (either sign): about the digits Python's own int()
# takes from text (sys.get_int_max_str_digits()), far past any amount or id.
MAX_EXPONENT = 4300


def _number(text: str) -> Decimal:
    """A JSON number with a fraction or an exponent, exactly as written."""
    try:
        number = Decimal(text)
    except InvalidOperation:  # an exponent past what Decimal itself can hold
        number = None
    if number is None or abs(number.adjusted()) > MAX_EXPONENT:
        raise ValueError(f"number out of range: {text[:40]}")
    return number


def _object(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose keys are all different."""
    obj = dict(pairs)
    if len(obj) != len(pairs):  # some key came twice: name the first
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key[:40]!r}")
            seen.add(key)
    return obj
