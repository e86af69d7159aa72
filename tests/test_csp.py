"""Content-Security-Policy on every answer; the admin (inline styles, SVG charts) and the API docs
still work under it: no page this site serves needs an inline script."""

import re

import pytest

from regression import services as regression

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+=", re.IGNORECASE)


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_api_answer__carries_the_policy(api, viewer):
    policy = directives(api(viewer).get("/api/governance/go-live/state"))
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"


@pytest.fixture
def chart_state():
    regression.upsert_policy(domain="WHOLESALE", metric="contract_rate", changes={"enabled": True}, actor="t")
    events = [{"domain": "WHOLESALE", "metric": "contract_rate", "success": n % 4 != 0} for n in range(300)]
    regression.record_kpi_batch(events=events, actor="t")
    return regression.evaluate(domain="WHOLESALE", metric="contract_rate", actor="t")


def test_admin_pages__render_with_no_inline_script_under_the_policy(client, operator, chart_state):
    client.force_login(operator)
    for path in (
        "/admin/",
        f"/admin/regression/regressionstate/{chart_state.pk}/change/",  # the SVG chart
        "/admin/golive/golivestate/1/change/",
        "/admin/audit/auditevent/",
        "/api/docs/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.content.decode()
        assert not INLINE_SCRIPT.findall(page), (path, INLINE_SCRIPT.findall(page))
        assert not INLINE_HANDLER.findall(page), path
        policy = directives(response)
        assert policy["script-src"] == "'self'", path
        assert "'unsafe-inline'" in policy["style-src"], path  # the admin's and the charts' style attributes
    assert "<svg" in client.get(f"/admin/regression/regressionstate/{chart_state.pk}/change/").content.decode()


def test_api_docs__script_served_from_a_url(client, operator):
    client.force_login(operator)
    page = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="(/api/docs/\?script=[^"]*)"', page).group(1)
    response = client.get(script.replace("&amp;", "&"))
    assert response.status_code == 200 and "SwaggerUIBundle" in response.content.decode()
