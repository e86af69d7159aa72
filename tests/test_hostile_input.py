"""Hostile bodies and parameters: every answer is a 4xx JSON naming what is wrong, never a 500."""

import pytest

from tests.endpoints import api_endpoints

pytestmark = pytest.mark.django_db

POST_ENDPOINTS = api_endpoints("post")


def test_post_endpoints__found():
    assert "/api/governance/regression/kpi/batch" in POST_ENDPOINTS
    assert len(POST_ENDPOINTS) >= 12


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_json_body__nested_1000_levels__400_json(api, operator, path):
    body = "[" * 1000 + "]" * 1000  # 2 KB
    response = api(operator).generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"] == "application/json"
    assert "nested" in response.json()["detail"]


@pytest.mark.parametrize("depth", [1000, 100])
def test_json_body__nested_object_in_a_field__400_names_the_depth(api, operator, depth):
    body = '{"domain": "WHOLESALE", "amount": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    response = api(operator).generic("POST", "/api/governance/risk/reserve", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
