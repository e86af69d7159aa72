from rest_framework.parsers import JSONParser


class NonStrictJSONParser(JSONParser):
    """Reads the bare NaN and Infinity that Python's json.dumps writes, so that field validation
    answers a 400 naming the field instead of a "malformed body" (responses stay strict JSON)."""

    strict = False
