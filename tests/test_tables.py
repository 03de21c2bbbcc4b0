"""One source of truth for the tables: the PynamoDB models. The deployable template (deploy/resources.json)
and `make run`'s embedded AWS (devtools/stack.py) both take keys, indexes, stream and TTL from them through
devtools/tables.py; these tests fail if the models, the local tables and the template disagree."""
import pytest

from devtools import tables
from devtools import template as merge


def keys(schema):
    return sorted((k["AttributeName"], k["KeyType"]) for k in schema)


def shape_of_local(client, name: str) -> dict:
    """A local table as DynamoDB describes it, in the template's terms."""
    table = client.describe_table(TableName=name)["Table"]
    shape = {
        "keys": keys(table["KeySchema"]),
        "indexes": sorted((i["IndexName"], keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
                          for i in table.get("GlobalSecondaryIndexes", [])),
        "stream": table["StreamSpecification"]["StreamViewType"]
        if table.get("StreamSpecification", {}).get("StreamEnabled") else None,
        "billing": table.get("BillingModeSummary", {}).get("BillingMode"),
    }
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    shape["ttl"] = ttl.get("AttributeName") if ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING") else None
    return shape


def shape_of_template(props: dict) -> dict:
    return {
        "keys": keys(props["KeySchema"]),
        "indexes": sorted((i["IndexName"], keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
                          for i in props.get("GlobalSecondaryIndexes", [])),
        "stream": props.get("StreamSpecification", {}).get("StreamViewType"),
        "billing": props["BillingMode"],
        "ttl": props["TimeToLiveSpecification"]["AttributeName"] if "TimeToLiveSpecification" in props else None,
    }


def shape_of_model(model) -> dict:
    """Straight from PynamoDB, as the code will read and write the table."""
    schema = model._get_schema()
    ttl = [name for name, attribute in model.get_attributes().items()
           if type(attribute).__name__ == "TTLAttribute"]
    return {
        "keys": keys(schema["key_schema"]),
        "indexes": sorted((i["index_name"], keys(i["key_schema"]), i["projection"]["ProjectionType"])
                          for i in schema.get("global_secondary_indexes", [])),
        "stream": getattr(model.Meta, "stream_view_type", None),
        "billing": "PAY_PER_REQUEST",
        "ttl": ttl[0] if ttl else None,
    }


@pytest.mark.parametrize("variable", list(tables.TABLES))
def test_the_models_the_local_tables_and_the_template_agree(aws, variable):
    from chalicelib import aws as clients

    model, _ = tables.TABLES[variable]
    template = merge.merge_template()["Resources"][tables.logical_id(variable)]["Properties"]
    local = shape_of_local(clients.client("dynamodb"), model.Meta.table_name)
    assert shape_of_model(model) == local == shape_of_template(template)


def test_every_model_has_a_table_definition():
    from chalicelib.models import ALL_MODELS

    assert sorted(m.__name__ for m, _ in tables.TABLES.values()) == sorted(m.__name__ for m in ALL_MODELS)


def test_the_requests_stream_and_both_ttls_are_really_on_locally(aws):
    """What the stream worker and the expiry of unverified requests rely on, named once more on purpose."""
    from chalicelib import aws as clients
    from chalicelib.models import Marker, PrivacyRequest

    client = clients.client("dynamodb")
    assert shape_of_local(client, PrivacyRequest.Meta.table_name)["stream"] == "NEW_AND_OLD_IMAGES"
    for model in (PrivacyRequest, Marker):
        assert shape_of_local(client, model.Meta.table_name)["ttl"] == "expires_at"
