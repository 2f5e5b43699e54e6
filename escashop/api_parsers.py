"""The API's JSON parser: JSON numbers become exact Decimals, never floats.

A JSON number is decimal text; DRF's JSONParser turns ``1500.10`` into a float, which
transactions.money then has to refuse because the text it came from is already lost.
Parsing fractions with ``Decimal`` keeps the number the client wrote, so ``1500.10`` is
accepted as exactly ``1500.10`` and ``10.005`` is refused for its three places, as the
same amounts sent as strings are. A body nested deeper than Python's recursion limit
(``[[[[…]]]]``, which DRF's parser let through as a 500) is a 400 like any other body that
is not JSON. Everything else is DRF's JSONParser.
"""

from __future__ import annotations

import codecs
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        decoded = codecs.getreader(get_encoding(parser_context or {}))(stream)
        try:
            # rest_framework.utils.json.load refuses NaN and Infinity (strict JSON).
            return json.load(decoded, parse_float=Decimal)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
