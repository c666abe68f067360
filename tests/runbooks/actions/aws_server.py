"""moto's server mode on loopback (a free port), with an IAM user and access key made by boto3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer


@dataclass
class Iam:
    endpoint_url: str
    client: Any

    def new_key(self, user: str = "deploy-bot") -> str:
        self.client.create_user(UserName=user)
        key = self.client.create_access_key(UserName=user)["AccessKey"]
        return str(key["AccessKeyId"])

    def status(self, user: str, key_id: str) -> str | None:
        for meta in self.client.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            if meta["AccessKeyId"] == key_id:
                return str(meta["Status"])
        return None


@contextmanager
def moto_iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[Iam]:
    """A running moto server; boto3 gets dummy operator credentials from the environment."""
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        httpx.post(url + "/moto-api/reset", timeout=10).raise_for_status()  # state is global
        yield Iam(url, boto3.client("iam", endpoint_url=url, region_name="us-east-1"))
    finally:
        server.stop()
