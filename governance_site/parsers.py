import re

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

# No input of this API nests more than a few levels (a KPI batch is a list of flat objects).
MAX_JSON_DEPTH = 32
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _check(data) -> None:
    """Refuses a body nested deeper than MAX_JSON_DEPTH (ParseError) or holding a lone surrogate,
    which JSON's \\udXXX escapes can carry and UTF-8 cannot (a 400 naming the field; it used to
    reach the database or an error message and fail there with a 500). Without recursion."""
    stack = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if LONE_SURROGATE.search(value):
                field = ".".join(path) or "body"
                raise ValidationError({field: ["must be valid Unicode text (a lone surrogate is not)."]})
            continue
        if len(path) >= MAX_JSON_DEPTH and isinstance(value, (dict, list)):
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.")
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append((key, path))  # a bad key: named by the object that holds it
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, str(index))) for index, item in enumerate(value))


class NonStrictJSONParser(JSONParser):
    """Reads the bare NaN and Infinity that Python's json.dumps writes, so that field validation
    answers a 400 naming the field instead of a "malformed body" (responses stay strict JSON).

    A body nested more than MAX_JSON_DEPTH levels is malformed (a 400): Python's json would
    otherwise recurse past its limit on about 1,000 levels (2 KB) and answer a 500. See _check."""

    strict = False

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        _check(data)
        return data
