"""The OpenAPI 3 schema: valid, generated without warnings, covering every governance endpoint."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

from risk.reasons import DENIAL_REASONS

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def governance_paths(patterns=None, prefix=""):
    """Every URL path routed under /api/governance/, in OpenAPI form."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from governance_paths(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/governance/"):
            yield "/" + route.replace("<int:", "{").replace("<", "{").replace(">", "}")


@pytest.fixture
def schema(api, viewer):
    response = api(viewer).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema__validates_as_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_schema__covers_every_governance_endpoint(schema):
    routed = set(governance_paths())
    assert routed, "no governance routes found"
    assert routed <= set(schema["paths"]), routed - set(schema["paths"])


def test_schema__every_operation_documents_auth_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in HTTP_METHODS:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_schema__generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


def test_schema_and_docs__anonymous__401_or_login(api):
    assert api(None).get("/api/schema/").status_code == 401
    assert api(None).get("/api/docs/")["Location"] == "/admin/login/?next=/api/docs/"


def test_docs__operator_session__swagger_ui_from_local_static(client, operator):
    client.force_login(operator)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in response.content
    assert b"https://" not in response.content.split(b"<body")[0]


def test_schema__reason_codes__enums_from_each_levers_reasons_module(schema):
    from golive import reasons as golive
    from heimdall import reasons as heimdall
    from risk import reasons as risk

    components = schema["components"]["schemas"]
    for name, codes in (
        ("RefusalReasonEnum", golive.REFUSALS),
        ("DenialReasonEnum", risk.DENIAL_REASONS),
        ("EligibilityReasonEnum", heimdall.ELIGIBILITY_REASONS),
    ):
        assert components[name]["enum"] == list(codes)
    check = schema["paths"]["/api/governance/heimdall/check"]["post"]["responses"]["200"]["content"]
    output = check["application/json"]["schema"]["$ref"].rpartition("/")[2]
    assert "EligibilityReasonEnum" in str(components[output]["properties"]["reason"])


def test_reserve__reason_order__same_in_reasons_module_schema_and_readme(schema):
    """The Risk Guard's denial order is documented three times; all three agree with the code's."""

    def order(text: str) -> list[str]:
        codes = re.findall(r"`([a-z_]+)`", text)
        seen = [code for code in codes if code in DENIAL_REASONS]
        return list(dict.fromkeys(seen))

    description = schema["paths"]["/api/governance/risk/reserve"]["post"]["description"]
    assert order(description) == list(DENIAL_REASONS)
    enum = schema["components"]["schemas"]["DenialReasonEnum"]["enum"]
    assert [code for code in enum if code] == list(DENIAL_REASONS)
    readme = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text()
    section = readme[readme.index("Reserve's reasons, first that applies") :]
    section = section[: section.index("The pre-action checks are policy fields")]
    assert order(section) == list(DENIAL_REASONS)


def test_schema__auth_scheme_is_knox_token(schema):
    schemes = schema["components"]["securitySchemes"]
    assert {k: schemes["knoxApiToken"][k] for k in ("type", "in", "name")} == {
        "type": "apiKey", "in": "header", "name": "Authorization"
    }  # fmt: skip
    assert "tokenAuth" not in schemes
