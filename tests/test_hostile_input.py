"""Hostile bodies and parameters: every answer is a 4xx JSON naming what is wrong, never a 500."""

import json

import pytest

from tests.endpoints import api_endpoints

pytestmark = pytest.mark.django_db

POST_ENDPOINTS = api_endpoints("post")
BATCH = "/api/governance/regression/kpi/batch"


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


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/governance/regression/policies/upsert",
            '{"domain": "WHOLESALE", "metric": "contract_rate", "kind": "\\ud800"}',
            "kind",
        ),
        (
            "/api/governance/regression/policies/upsert",
            '{"domain": "WHOLESALE", "metric": "contract_rate", "action": "KILL\\udfff"}',
            "action",
        ),
        ("/api/governance/regression/kpi/batch", '[{"domain": "X", "metric": "m", "actor": "\\udc00"}]', "0.actor"),
        ("/api/governance/go-live/kill-switch", '{"engaged": true, "reason": "a\\ud800b"}', "reason"),
    ],
)
def test_lone_surrogate__in_a_field__400_naming_it(api, operator, path, body, field):
    response = api(operator).generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == field


def kpi_batch(events: int, **fields) -> list[dict]:
    return [{"domain": "WHOLESALE", "metric": "contract_rate", "success": True, **fields} for _ in range(events)]


LONGEST = {"domain": "W" * 64, "metric": "m" * 64, "actor": "a" * 150, "value": -1.2345678901234567e-300}


def test_body_over_the_limit__413_json(settings, api, engine):
    body = json.dumps(kpi_batch(1)).ljust(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = api(engine).generic("POST", BATCH, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"Request body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
        "field": None,
        "reason": "body_too_large",
    }


def test_documented_10000_event_batch__longest_fields_indented__accepted(api, engine):
    """The documented batch fits the limit even with every text field at its longest (measured:
    about 6 MB indented; a realistic one is about 2.5 MB, over Django's 2.5 MiB default)."""
    events = [
        {**event, "event_id": f"{n:0128d}", "occurred_at": "2026-11-29T01:23:45.123456+00:00"}
        for n, event in enumerate(kpi_batch(10_000, **LONGEST))
    ]
    body = json.dumps(events, indent=2)
    assert len(body) > 6_000_000
    response = api(engine).generic("POST", BATCH, body, content_type="application/json")
    assert response.status_code == 201, response.content[:300]
    assert response.json()["created"] == 10_000


@pytest.mark.parametrize("path", api_endpoints("get"))
def test_get_endpoints__nul_byte_in_a_parameter__400_json(api, operator, path):
    response = api(operator).get(path, {"actor": "a\x00b", "date": "\x00", "domain": "W\x00"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Query parameters must not contain NUL bytes.", "field": None}
