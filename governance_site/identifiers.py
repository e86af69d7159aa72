"""The identifiers every lever keys its data by: a domain (`WHOLESALE`) and a metric (`contract_rate`).

One `Identifier` carries its rule once and hands it out in every shape the code needs: the model
validator, the service check (`clean`: InvalidInput naming the field), the DRF serializer field
and the admin form field. Input is ASCII letters, digits and `_` (1 to 64), in either case; it is
stored in the identifier's case (`wholesale` → `WHOLESALE`, `Contract_Rate` → `contract_rate`).
"""

import re
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Literal

from django import forms
from django.core.validators import RegexValidator
from rest_framework import serializers

from .errors import InvalidInput

_INPUT = re.compile(r"\A[A-Za-z0-9_]{1,64}\Z")  # ASCII only: "ß".upper() is "SS"


@dataclass(frozen=True)
class Identifier:
    name: str
    case: Literal["upper", "lower"]  # the case it is stored in

    @property
    def rule(self) -> str:
        return f"{self.case}-case letters, digits and _, 1 to 64 characters"

    @cached_property
    def validator(self) -> RegexValidator:
        """For the model field: the stored value is in the identifier's case."""
        letters = "A-Z" if self.case == "upper" else "a-z"
        return RegexValidator(re.compile(rf"\A[{letters}0-9_]{{1,64}}\Z"), f"must be {self.rule}")

    def normalize(self, value, error: type[Exception] = ValueError) -> str:
        """The value in the identifier's case, or `error` with the rule."""
        if not isinstance(value, str):
            raise error(f"must be a string of {self.rule}")
        if not _INPUT.match(value):
            raise error(f"must be {self.rule}")
        return value.upper() if self.case == "upper" else value.lower()

    def clean(self, value) -> str:
        """`normalize` for services: a bad value is an InvalidInput (a 400) naming the field."""
        try:
            return self.normalize(value)
        except ValueError as exc:
            raise InvalidInput(f"{self.name}: {exc}", field=self.name) from exc

    def form_field(self, **kwargs) -> forms.Field:
        return IdentifierFormField(self, **kwargs)


DOMAIN = Identifier("domain", case="upper")
METRIC = Identifier("metric", case="lower")


class IdentifierField(serializers.CharField):
    """An identifier in an API body: normalised, anything off the rule is a 400 naming the field."""

    def __init__(self, identifier: Identifier, **kwargs):
        self.identifier = identifier
        kwargs.setdefault("trim_whitespace", False)  # " WHOLESALE" is off the rule, not WHOLESALE
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return self.identifier.normalize(super().to_internal_value(data), serializers.ValidationError)


class IdentifierFormField(forms.CharField):
    """An identifier in an admin form: normalised, anything off the rule is a form error."""

    def __init__(self, identifier: Identifier, **kwargs):
        self.identifier = identifier
        kwargs.setdefault("strip", False)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("help_text", f"{identifier.rule.capitalize()} (any case: stored in this one).")
        super().__init__(**kwargs)

    def clean(self, value):
        return self.identifier.normalize(super().clean(value), forms.ValidationError)


DomainField = partial(IdentifierField, DOMAIN)
MetricField = partial(IdentifierField, METRIC)
