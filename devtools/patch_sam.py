"""Post-process `chalice package` output: let the stream handler report batch item failures.

Chalice's on_dynamodb_record can't set FunctionResponseTypes, so the SAM template is patched: the DynamoDB
event gets `FunctionResponseTypes: [ReportBatchItemFailures]` and the function gets
STREAM_FAILURE_MODE=report, telling the handler to return the failed records instead of raising. Without
both, a returned failure list would be ignored by Lambda and the notice lost — so the two go together.

usage: python -m devtools.patch_sam out/sam.json
"""
import json
import sys


def patch(template: dict) -> int:
    patched = 0
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.setdefault("Properties", {})
        streams = [e for e in props.get("Events", {}).values() if e.get("Type") == "DynamoDB"]
        for event in streams:
            event["Properties"]["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
            event["Properties"]["BisectBatchOnFunctionError"] = True
        if streams:
            variables = props.setdefault("Environment", {}).setdefault("Variables", {})
            variables["STREAM_FAILURE_MODE"] = "report"
            patched += 1
    return patched


def main(path: str) -> None:
    with open(path) as f:
        template = json.load(f)
    if patch(template) == 0:
        raise SystemExit(f"{path}: no DynamoDB stream function found to patch")
    with open(path, "w") as f:
        json.dump(template, f, indent=2)
    print(f"{path}: stream handler reports batch item failures")


if __name__ == "__main__":
    main(sys.argv[1])
