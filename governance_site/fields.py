"""Input rules shared by every lever: finite decimals, fractions, business days (identifiers: see
identifiers.py)."""

import copy
import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation

from rest_framework import serializers

from .business_day import business_date


def built_once(model_serializer: type[serializers.ModelSerializer]) -> type[serializers.Serializer]:
    """A plain Serializer holding the fields `model_serializer` builds from its model, built once.

    A ModelSerializer introspects its model for every instance, which on a hot endpoint costs
    more than the rest of its answer; this one has the very same fields (same output, same
    OpenAPI schema: copied from the built ones) and builds nothing per request. Not for a field
    read from a model property: the schema takes its type and description from the model."""
    fields = {name: copy.deepcopy(field) for name, field in model_serializer().fields.items()}
    namespace = {name: value for name, value in vars(model_serializer).items() if name.startswith("get_")}
    namespace.update(__module__=model_serializer.__module__, __doc__=model_serializer.__doc__)
    namespace["__qualname__"] = model_serializer.__qualname__
    return type(model_serializer.__name__, (serializers.Serializer,), {**namespace, **fields})


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """`data` checked by `serializer_class`: its validated data, or a 400 naming the field."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


NON_FINITE = {"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}


class FiniteDecimalField(serializers.DecimalField):
    """A Decimal given as a JSON number or a plain decimal string ("1200.50", "-3", "1e3"); NaN,
    infinities and what only Python's Decimal reads ("1_000", non-ASCII digits) are refused."""

    PLAIN = re.compile(r"\A[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")

    def __init__(self, *, max_digits=20, decimal_places=4, **kwargs):
        super().__init__(max_digits=max_digits, decimal_places=decimal_places, **kwargs)

    def validate_empty_values(self, data):
        # DRF reads "" and "  " as null when allow_null: that would silently remove a cap. Only
        # a JSON null is null; a blank string is not a number.
        if isinstance(data, str) and not data.strip():
            self.fail("invalid")
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str) and not self.PLAIN.match(data.strip()) and data.strip().lower() not in NON_FINITE:
            self.fail("invalid")
        try:
            candidate = Decimal(str(data).strip())
        except (InvalidOperation, ValueError):
            self.fail("invalid")
        if not candidate.is_finite():
            raise serializers.ValidationError("must be a finite number (not NaN or infinity)")
        return super().to_internal_value(data)


class FiniteFloatField(serializers.FloatField):
    """A float that is a real number: NaN and infinities are refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            raise serializers.ValidationError("must be a finite number (not NaN or infinity)")
        return value


class FractionField(FiniteFloatField):
    """A finite number between 0 and 1 inclusive."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0.0)
        kwargs.setdefault("max_value", 1.0)
        super().__init__(**kwargs)


class BusinessDayQuery(serializers.Serializer):
    """`?date=YYYY-MM-DD`: a business day for a ledger, scorecard or review; default today, never
    after today (in GOVERNANCE_TIME_ZONE)."""

    date = serializers.DateField(
        required=False, input_formats=["%Y-%m-%d"], help_text="A business day (YYYY-MM-DD); default today."
    )

    earliest = dt.date(2000, 1, 1)

    def validate_date(self, value):
        if value > business_date():
            raise serializers.ValidationError("must not be after today's business date")
        if value < self.earliest:
            raise serializers.ValidationError(f"must not be before {self.earliest}")
        return value


class DateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField, but a time that cannot be made aware (a naive year-1 time east of UTC)
    is a 400 naming the field rather than an OverflowError."""

    def to_internal_value(self, value):
        try:
            return super().to_internal_value(value)
        except OverflowError as exc:
            raise serializers.ValidationError("is out of range") from exc
