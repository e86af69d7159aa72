"""Unknown API paths and trailing slashes answer JSON 404; the API docs send a browser to the login."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/governance/nope", "/api/nope", "/api/governance/risk/ledger/today/x"])
def test_unknown_api_path__json_404(api, viewer, path):
    response = api(viewer).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": f"No such endpoint: {path}.", "field": None}


@pytest.mark.parametrize("path", ["/api/governance/review/", "/api/governance/regression/kpi/"])
def test_trailing_slash__json_404_naming_the_path_without_it(api, engine, path):
    response = api(engine).post(path, {}, format="json")
    assert response.status_code == 404
    assert f"try {path.rstrip('/')}" in response.json()["detail"]


def test_api_docs__no_session__redirected_to_the_admin_login_and_back(client, operator):
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/docs/"
    client.force_login(operator)
    assert client.get("/api/docs/").status_code == 200


def test_api_docs__token__the_page(api, viewer):
    assert api(viewer).get("/api/docs/").status_code == 200


def test_unknown_api_path__post_without_a_csrf_cookie__json_404_not_the_csrf_page(db):
    response = Client(enforce_csrf_checks=True).post("/api/governance/changes/x/approve", {})
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")


@pytest.mark.parametrize("page", ["-3", "0", "x", "999"])
@pytest.mark.parametrize("path", ["/api/governance/regression/policies", "/api/governance/audit"])
def test_list__page_that_does_not_exist__400_naming_page(api, viewer, path, page):
    response = api(viewer).get(path, {"page": page})
    assert response.status_code == 400
    assert response.json()["field"] == "page"
