from decimal import Decimal

import pytest
from rest_framework.serializers import ValidationError

from governance_site.fields import FiniteDecimalField


@pytest.mark.parametrize("blank", ["", " ", "\n"])
def test_finite_decimal__blank_with_allow_null__refused_not_null(blank):
    field = FiniteDecimalField(allow_null=True)
    with pytest.raises(ValidationError) as raised:
        field.run_validation(blank)
    assert "valid number" in str(raised.value.detail[0])


def test_finite_decimal__null_with_allow_null__none_and_a_number_still_read():
    field = FiniteDecimalField(allow_null=True)
    assert field.run_validation(None) is None
    assert field.run_validation(" 12.5 ") == Decimal("12.5")
