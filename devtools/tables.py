"""The six DynamoDB tables, defined once: read from the PynamoDB models, used by both the deployable template
(devtools/template.py) and `make run`'s embedded AWS (devtools/stack.py), so the code, the local tables and
the deployed ones can't drift apart.

Each table is named by the environment variable its model reads (`MEMBERS_TABLE`...); from it come the
template's logical id (`MembersTable`) and the deployed name's suffix (`<stack>-members`, from
`config.TABLE_SUFFIXES`). Renaming a table is a change of that suffix, in one line.
"""
from pynamodb.attributes import TTLAttribute

from chalicelib import config, models

# environment variable the model reads -> (model, deployed name's suffix)
_MODELS = {"MEMBERS_TABLE": models.Member, "SETTINGS_TABLE": models.TeamSettings, "DOSSIERS_TABLE": models.Dossier,
           "REQUESTS_TABLE": models.PrivacyRequest, "MARKERS_TABLE": models.Marker,
           "SYSTEMS_TABLE": models.System}
TABLES = {variable: (_MODELS[variable], suffix) for variable, suffix in config.TABLE_SUFFIXES.items()}


def logical_id(variable: str) -> str:
    """MEMBERS_TABLE -> MembersTable."""
    return "".join(part.capitalize() for part in variable.split("_"))


def _key_schema(keys: list[dict]) -> list[dict]:
    # HASH first: CloudFormation and DynamoDB both read the order (PynamoDB's schema has no fixed order)
    return sorted(({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in keys),
                  key=lambda k: k["KeyType"] != "HASH")


def definition(model) -> dict:
    """The table as CloudFormation's AWS::DynamoDB::Table properties (less its name and the deployment-only
    settings): keys, indexes, billing, stream, TTL. DynamoDB's CreateTable takes the same shapes."""
    schema = model._get_schema()
    table = {
        "AttributeDefinitions": sorted(({"AttributeName": a["AttributeName"], "AttributeType": a["AttributeType"]}
                                        for a in schema["attribute_definitions"]),
                                       key=lambda a: a["AttributeName"]),
        "KeySchema": _key_schema(schema["key_schema"]),
        "BillingMode": "PAY_PER_REQUEST",
    }
    indexes = sorted(schema.get("global_secondary_indexes") or [], key=lambda i: i["index_name"])
    if indexes:
        table["GlobalSecondaryIndexes"] = [{"IndexName": i["index_name"], "KeySchema": _key_schema(i["key_schema"]),
                                            "Projection": {"ProjectionType": i["projection"]["ProjectionType"]}}
                                           for i in indexes]
    view = getattr(model.Meta, "stream_view_type", None)
    if view:
        table["StreamSpecification"] = {"StreamViewType": view}
    ttl = [name for name, attribute in model.get_attributes().items() if isinstance(attribute, TTLAttribute)]
    if ttl:
        (attribute,) = ttl  # DynamoDB allows one TTL attribute per table
        table["TimeToLiveSpecification"] = {"AttributeName": attribute, "Enabled": True}
    return table


def definitions() -> dict[str, dict]:
    """Environment variable -> definition, for every table."""
    return {variable: definition(model) for variable, (model, _) in TABLES.items()}


def create_local(client) -> None:
    """Create every missing table on moto (`make run`, tests) from its definition, with stream and TTL."""
    existing = set(client.list_tables()["TableNames"])
    for model, _ in TABLES.values():
        name = model.Meta.table_name
        if name in existing:
            continue
        table = definition(model)
        ttl = table.pop("TimeToLiveSpecification", None)
        stream = table.pop("StreamSpecification", None)
        if stream:
            table["StreamSpecification"] = {"StreamEnabled": True, **stream}
        client.create_table(TableName=name, **table)
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
