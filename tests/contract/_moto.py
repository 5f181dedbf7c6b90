"""Connection settings of an S3 storage that talks to a local moto server."""

from __future__ import annotations

from typing import Any

from tests.services import MotoS3


def moto_s3_options(server: MotoS3) -> dict[str, Any]:
    """Keyword arguments pointing an ``S3`` storage at ``server`` with its fake credentials."""
    return {
        "endpoint_url": server.endpoint_url,
        "use_ssl": False,
        "aws_access_key_id": server.aws_access_key_id,
        "aws_secret_access_key": server.aws_secret_access_key,
        "region_name": server.region_name,
    }
