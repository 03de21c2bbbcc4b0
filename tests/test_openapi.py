"""openapi.yaml is what devtools/openapi.py generates, valid OpenAPI, and describes exactly the app's routes."""
import yaml
from openapi_spec_validator import validate

from devtools import openapi


def _spec() -> dict:
    return yaml.safe_load(openapi.SPEC_PATH.read_text())


def test_openapi_yaml_is_up_to_date_with_the_generator():
    assert openapi.SPEC_PATH.read_text() == openapi.render(), \
        "openapi.yaml is stale: run .venv/bin/python -m devtools.openapi"


def test_openapi_yaml_is_a_valid_openapi_document():
    validate(_spec())


def test_every_route_is_in_the_spec_and_nothing_else():
    from app import app

    routes = {(method.lower(), path) for path, methods in app.routes.items() for method in methods
              if not path.startswith(openapi.EXCLUDED_PREFIXES)}
    described = {(method, path) for path, operations in _spec()["paths"].items() for method in operations}
    assert routes - described == set(), "routes missing from openapi.yaml"
    assert described - routes == set(), "openapi.yaml describes routes the app doesn't have"
    assert not any(path.startswith(openapi.EXCLUDED_PREFIXES) for path in _spec()["paths"])


def _without_annotations(schema):
    if isinstance(schema, dict):
        return {k: _without_annotations(v) for k, v in schema.items() if k not in openapi.ANNOTATION_KEYWORDS}
    if isinstance(schema, list):
        return [_without_annotations(v) for v in schema]
    return schema


def test_request_bodies_are_the_schemas_the_app_validates_with():
    """Verbatim from SCHEMAS, give or take annotations (format: email, ...) that change no validation."""
    from chalicelib.schemas import SCHEMAS

    spec = _spec()
    components = spec["components"]["schemas"]
    used = set()
    for operations in spec["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                name = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert _without_annotations(components[name]) == _without_annotations(SCHEMAS[name])
                used.add(name)
    assert used == set(SCHEMAS), f"schemas no route uses: {set(SCHEMAS) - used}"


def test_team_routes_need_a_bearer_token_and_public_ones_do_not():
    for path, operations in _spec()["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/teams/"):
                assert operation.get("security") == [{"bearer": []}], f"{method} {path}"
                assert "401" in operation["responses"] and "403" in operation["responses"], f"{method} {path}"
            else:
                assert "security" not in operation, f"{method} {path}"


def test_json_errors_have_the_code_and_message_shape():
    spec = _spec()
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["Code", "Message"]
    assert error["properties"]["Code"] == {"type": "string"} and error["properties"]["Message"] == {"type": "string"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("4") and "application/json" in response.get("content", {}):
                    assert response["content"]["application/json"]["schema"] == \
                        {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"
