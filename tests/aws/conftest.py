"""Fixtures for driving the Lambda handlers end to end: moto server + controller emulators."""

from __future__ import annotations

import copy
import io
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.aws import MotoServer
from tests.fixtures.controller import BLANK_PRIVATE_IP, CONTROLLER_PASSWORD

EVENTS = Path(__file__).resolve().parents[1] / "events" / "aws"


def load_event(name: str, **replace: str) -> dict[str, Any]:
    """A stored event, with placeholder values (instance ids, URLs) swapped for this test's."""
    text = (EVENTS / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    event: dict[str, Any] = json.loads(text)
    return copy.deepcopy(event)


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from Lambda's context object."""

    function_name: str = "aviatrix-ctrl-backup-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/aviatrix-ctrl-backup-test"
    log_stream_name: str = "2026/11/25/[$LATEST]0123456789abcdef"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def password_secret(aws_env: MotoServer) -> str:
    """The controller password in Secrets Manager (on moto), as the deployed functions read it."""
    name = f"controller-password-{uuid.uuid4().hex[:8]}"
    aws_env.client("secretsmanager").create_secret(
        Name=name, SecretString=json.dumps({"password": CONTROLLER_PASSWORD})
    )
    return f"aws-sm:{name}#password"


@pytest.fixture
def lambda_env(
    controller_env: dict[str, str],
    s3_url: str,
    password_secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The function's environment as Terraform sets it, aimed at the emulator and moto server."""
    env = {
        **controller_env,
        "BACKUP_URL": s3_url,
        "CONTROLLER_PASSWORD": password_secret,
        "REPLACEMENT_TAG": "Name=AviatrixController",
        # the replacement takes over CONTROLLER_URL's address (an EIP), here the blank emulator
        "REPLACEMENT_URL": "controller_url",
        "POWERTOOLS_METRICS_NAMESPACE": "ControllerBackup",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def replacement_instance(aws_env: MotoServer) -> Iterator[str]:
    """A tagged EC2 instance on moto whose private IP is the blank controller's (its admin password)."""
    ec2 = aws_env.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    instance = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        PrivateIpAddress=BLANK_PRIVATE_IP,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "AviatrixController"}]}
        ],
    )["Instances"][0]["InstanceId"]
    yield instance
    ec2.terminate_instances(InstanceIds=[instance])


@pytest.fixture
def untagged_instance(aws_env: MotoServer) -> str:
    ec2 = aws_env.client("ec2")
    return str(
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    )


@pytest.fixture
def function_logs() -> Iterator[io.StringIO]:
    """Everything the handlers' Powertools logger emits, formatted exactly as in Lambda."""
    from functions.aws import common

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(common.logger.registered_formatter)
    common.logger.addHandler(handler)
    yield buffer
    common.logger.removeHandler(handler)


def emf_metrics(stdout: str) -> dict[str, list[float]]:
    """Metric name -> values of every CloudWatch EMF document printed to stdout."""
    found: dict[str, list[float]] = {}
    for raw in stdout.splitlines():
        line = raw.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return found
