"""Datastore (S3 bytes per customer) and infrastructure (CloudWatch per tagged instance) sources,
against moto's HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3

from ingestion.sources.cloudwatch_metric import MetricConfig, read_metric
from ingestion.sources.s3_storage import StorageConfig, sample_storage


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_s3_bytes_per_customer_become_storage_gb(aws_env: str, data_dir: Path) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket="tenant-data")
    # cus_a: 5 objects of 1,000 bytes + 1 of 1,234 bytes = 6,234 bytes; cus_b: 1 object of 999 bytes
    for i in range(5):
        s3.put_object(Bucket="tenant-data", Key=f"customers/cus_a/part-{i}.bin", Body=b"x" * 1000)
    s3.put_object(Bucket="tenant-data", Key="customers/cus_a/deep/nested.bin", Body=b"y" * 1234)
    s3.put_object(Bucket="tenant-data", Key="customers/cus_b/a.bin", Body=b"z" * 999)
    s3.put_object(Bucket="tenant-data", Key="customers/orphan.bin", Body=b"o" * 50)  # no customer prefix
    s3.put_object(Bucket="tenant-data", Key="other/cus_c/x.bin", Body=b"o" * 50)  # outside the root prefix
    config = StorageConfig(bucket="tenant-data", page_size=2)  # 8 keys in pages of 2: pagination is exercised
    sampled_at = datetime(2023, 1, 1, 13, 47, tzinfo=UTC)
    result = sample_storage(s3, config, sampled_at, data_dir)
    rows = {r["customer_id"]: r for r in _rows(result.path)}
    assert sorted(rows) == ["cus_a", "cus_b"]
    # 6,234 bytes / 10^9 = 0.000006234 GB; 999 / 10^9 = 0.000000999 GB
    assert rows["cus_a"]["quantity"] == "0.000006234"
    assert rows["cus_b"]["quantity"] == "0.000000999"
    assert rows["cus_a"]["properties"] == {"bytes": 6234, "objects": 6, "bucket": "tenant-data"}
    assert rows["cus_a"]["meter"] == "storage_gb" and rows["cus_a"]["timestamp"] == "2023-01-01T13:00:00Z"
    assert result.path.name == "tenant-data__20230101T13.jsonl"
    # a second sample in the same hour lands the same ids in the same file: nothing counts twice
    again = sample_storage(s3, config, datetime(2023, 1, 1, 13, 59, tzinfo=UTC), data_dir)
    assert again.path == result.path
    assert {r["event_id"] for r in _rows(again.path)} == {r["event_id"] for r in rows.values()}
    # the next hour is a new sample
    nxt = sample_storage(s3, config, datetime(2023, 1, 1, 14, 0, tzinfo=UTC), data_dir)
    assert {r["event_id"] for r in _rows(nxt.path)}.isdisjoint(r["event_id"] for r in rows.values())


def test_cloudwatch_metric_per_tagged_instance(aws_env: str, data_dir: Path) -> None:
    ec2 = boto3.client("ec2", endpoint_url=aws_env, region_name="us-east-1")
    cw = boto3.client("cloudwatch", endpoint_url=aws_env, region_name="us-east-1")
    image = ec2.describe_images()["Images"][0]["ImageId"]

    def launch(customer: str | None) -> str:
        tags = [{"ResourceType": "instance", "Tags": [{"Key": "usagebill:customer", "Value": customer}]}]
        kwargs = {"TagSpecifications": tags} if customer else {}
        return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, **kwargs)["Instances"][0][
            "InstanceId"
        ]

    a, b, untagged = launch("cus_a"), launch("cus_b"), launch(None)
    t = lambda h, m: datetime(2023, 1, 1, h, m, tzinfo=UTC)  # noqa: E731
    data = [
        (a, t(13, 5), 1000), (a, t(13, 47), 1457), (a, t(14, 10), 300),
        (b, t(13, 30), 42), (untagged, t(13, 30), 99999),
        (a, t(15, 0), 5000),  # at window end: outside [13:00, 15:00)
    ]  # fmt: skip
    for iid, ts, value in data:
        cw.put_metric_data(
            Namespace="GPU/Usage",
            MetricData=[{"MetricName": "gpu_ms", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                         "Timestamp": ts, "Value": value, "Unit": "Milliseconds"}],
        )  # fmt: skip
    config = MetricConfig(namespace="GPU/Usage", metric_name="gpu_ms", meter="gpu_ms")
    result = read_metric(cw, ec2, config, t(13, 0), t(15, 0), data_dir)
    got = sorted((r["customer_id"], r["timestamp"], r["quantity"]) for r in _rows(result.path))
    # cus_a 13h: 1000 + 1457 = 2457 ms (the product brief's example); cus_a 14h: 300; cus_b 13h: 42
    assert got == [
        ("cus_a", "2023-01-01T13:00:00Z", "2457"),
        ("cus_a", "2023-01-01T14:00:00Z", "300"),
        ("cus_b", "2023-01-01T13:00:00Z", "42"),
    ]
    rows = _rows(result.path)
    assert {r["properties"]["resource_id"] for r in rows} == {a, b}
    again = read_metric(cw, ec2, config, t(13, 0), t(15, 0), data_dir)
    assert again.path == result.path and [r["event_id"] for r in _rows(again.path)] == [
        r["event_id"] for r in rows
    ]
