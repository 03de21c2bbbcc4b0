"""Create the stage's AWS resources on moto, read the requests table's stream, seed a demo team.

Used by `make run` (against the embedded moto server) and by the tests (against in-process moto), so both
run the same tables, indexes, stream, bucket and verified sender that a deployment expects.
"""
import datetime as dt
import time

from chalicelib import aws, config, teams
from chalicelib.models import PrivacyRequest
from devtools import tables


def keep_streams_across_failed_transactions() -> None:
    """Work around moto 5.2: a cancelled TransactWriteItems restores each table it touched from a deep copy, and
    the copy carries a *new* stream shard. Every shard iterator already handed out (the stream worker's) keeps
    reading the old shard, which got the cancelled writes' phantom records and never gets another one: after the
    first refused transaction on the requests table (a duplicate portal submission, a lost race), no email is
    sent again. Real DynamoDB writes nothing and streams nothing for a cancelled transaction; so do we: put the
    original shard back on the restored table, minus the records the cancelled transaction added."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "keeps_streams", False):
        return

    def transact_write_items(self, transact_items):
        before = {name: (table, table.stream_shard, len(table.stream_shard.items))
                  for name, table in self.tables.items() if table.stream_shard is not None}
        try:
            return original(self, transact_items)
        except Exception:
            for name, (table, shard, count) in before.items():
                restored = self.tables.get(name)
                if restored is not None and restored is not table:
                    del shard.items[count:]
                    shard.table = restored
                    restored.stream_shard = shard
            raise

    transact_write_items.keeps_streams = True
    DynamoDBBackend.transact_write_items = transact_write_items


def provision() -> str:
    """Create tables (with TTL on), bucket and SES sender; return the requests stream's ARN."""
    # The same definitions as the deployable template's (devtools/tables.py): keys, indexes, stream, TTL.
    tables.create_local(aws.client("dynamodb"))
    s3 = aws.s3()
    bucket = config.get("DOCUMENTS_BUCKET")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    # An export abandoned half-way (failed, never executed again) leaves a multipart upload whose parts are
    # invisible but stored: S3 aborts it after 3 days; the export, if executed later, starts over.
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [{
        "ID": "expire-exports", "Status": "Enabled", "Filter": {"Prefix": "exports/"}, "Expiration": {"Days": 31},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}}]})
    aws.ses().verify_email_identity(EmailAddress=config.get("SENDER_EMAIL"))
    # Visibility timeout above the worker's Lambda timeout (.chalice/config.json), so a slice still running is
    # never handed to a second worker; the watchdog (housekeeping) re-sends what a dead worker dropped.
    aws.sqs().create_queue(QueueName=config.get("EXECUTION_QUEUE"),
                           Attributes={"VisibilityTimeout": str(EXECUTION_VISIBILITY_SECONDS)})
    aws.queue_url.cache_clear()
    return stream_arn()


EXECUTION_VISIBILITY_SECONDS = 1800  # 6 x the worker's 300 s timeout, as AWS recommends for SQS event sources


def stream_arn() -> str:
    return aws.client("dynamodb").describe_table(TableName=PrivacyRequest.Meta.table_name)["Table"]["LatestStreamArn"]


def seed_demo_team() -> dict:
    team_id, member_id = teams.create_team("Demo team", "admin@demo.example", "Demo Admin")
    return {"team_id": team_id, "member_id": member_id, "admin_token": teams.bearer_token(team_id, member_id)}


def streams_client():
    """botocore ≥1.44 addresses DynamoDB Streams at `<account>.streams-ddb.<region>`, a host moto's in-process
    mock doesn't recognise; name the classic endpoint unless AWS_ENDPOINT_URL already points at moto."""
    import os

    import boto3

    if os.environ.get("AWS_ENDPOINT_URL"):
        return aws.client("dynamodbstreams")
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return boto3.session.Session().client("dynamodbstreams",
                                          endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com")


class StreamReader:
    """Reads new records of a DynamoDB stream shard by shard, following NextShardIterator.

    Records are shaped as Lambda receives them (eventSourceARN added, creation time as epoch seconds)."""

    def __init__(self, arn: str):
        self.arn = arn
        self.client = streams_client()
        self.iterators: dict[str, str | None] = {}

    def _refresh_shards(self) -> None:
        shards = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self.iterators:
                self.iterators[shard["ShardId"]] = self.client.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def read(self) -> list[dict]:
        self._refresh_shards()
        records = []
        for shard_id, iterator in list(self.iterators.items()):
            if iterator is None:
                continue
            answer = self.client.get_records(ShardIterator=iterator)
            self.iterators[shard_id] = answer.get("NextShardIterator")
            records.extend(lambda_shape(r, self.arn) for r in answer["Records"])
        return records


def lambda_shape(record: dict, arn: str) -> dict:
    shaped = dict(record)
    shaped["eventSourceARN"] = arn
    shaped.setdefault("awsRegion", "us-east-1")
    shaped["dynamodb"] = dict(record["dynamodb"])
    created = shaped["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, dt.datetime):
        shaped["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
    elif created is None:
        shaped["dynamodb"]["ApproximateCreationDateTime"] = time.time()
    return shaped
