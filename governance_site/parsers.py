from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No input of this API nests more than a few levels (a KPI batch is a list of flat objects).
MAX_JSON_DEPTH = 32


def _depth(data) -> int:
    """How deeply lists and objects nest in parsed JSON (a scalar: 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, level)
        stack.extend((item, level + 1) for item in value)
    return deepest


class NonStrictJSONParser(JSONParser):
    """Reads the bare NaN and Infinity that Python's json.dumps writes, so that field validation
    answers a 400 naming the field instead of a "malformed body" (responses stay strict JSON).

    A body nested more than MAX_JSON_DEPTH levels is malformed (a 400): Python's json would
    otherwise recurse past its limit on about 1,000 levels (2 KB) and answer a 500."""

    strict = False

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise too_deep
        return data
