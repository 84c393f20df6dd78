"""A local S3 for the tests, the demo and the benchmark: moto's server on a loopback port.

Redshift's UNLOAD writes to S3, and QuperSync's bulk path reads the files back from there, so
both ends need a real S3 API to talk to. ``moto`` in server mode answers the S3 REST API over
HTTP like the service does (multipart uploads, listings, ranged reads), in a thread of the
calling process. It takes any credentials: ``LOCAL_S3_KEY`` is a dummy value, not a secret.

``S3Endpoint`` is how a client (the Redshift emulator, a test) is told where S3 is; it is also
what the emulator's command line builds from its ``--s3-*`` switches for a real endpoint.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from qupersync_dagster.devkit.embedded import LOOPBACK

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request

LOCAL_S3_KEY = "local-s3-dummy-key"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class S3Endpoint:
    """Where S3 answers and who to say we are; ``None`` leaves a value to boto3's defaults."""

    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )


@dataclass(frozen=True)
class S3Bucket:
    """A bucket and the endpoint that serves it."""

    endpoint: S3Endpoint
    bucket: str

    @property
    def endpoint_url(self) -> str | None:
        return self.endpoint.endpoint_url

    @property
    def region(self) -> str:
        return self.endpoint.region

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    def client(self) -> Any:
        return self.endpoint.client()


class LocalS3:
    """moto's S3 server on ``127.0.0.1`` and a free port, as a context manager.

    ``endpoint`` carries the URL, the region and dummy credentials; ``create_bucket`` makes a
    bucket (a fresh name by default) in that region and returns its name.
    """

    def __init__(self, region: str = DEFAULT_REGION) -> None:
        self.region = region
        self._server: Any = None
        self.endpoint = S3Endpoint(region=region)

    def start(self) -> LocalS3:
        from moto.server import ThreadedMotoServer

        if self._server is None:
            server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            self._server = server
            self.endpoint = S3Endpoint(
                endpoint_url=f"http://{host}:{port}",
                region=self.region,
                access_key_id=LOCAL_S3_KEY,
                secret_access_key=LOCAL_S3_KEY,
            )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def create_bucket(self, name: str | None = None, *, region: str | None = None) -> str:
        name = name or f"qupersync-{uuid.uuid4().hex[:12]}"
        region = region or self.region
        options: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":  # S3 refuses the constraint for its default region
            options["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self.endpoint.client().create_bucket(**options)
        return name
