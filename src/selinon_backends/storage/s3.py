"""S3 storage (aioboto3 behind the synchronous port, on a private event-loop thread).

Objects: ``<prefix>/<flow_name>/<task_name>/<task_id>.json`` holding the result as JSON
(``<task_id>.error.json`` for failures recorded by ``store_error``); without a ``prefix`` the
key starts at the flow name.

YAML (Selinon's keys are all accepted; ``prefix`` and the rest are ours)::

    storages:
      - name: Archive
        import: selinon.storages.s3
        classname: S3            # S3Storage is accepted too
        configuration:
          bucket: my-results
          prefix: selinon
          location: eu-west-1
          endpoint_url: '{S3_ENDPOINT_URL}'
          use_ssl: true
          aws_access_key_id: '{AWS_ACCESS_KEY_ID}'
          aws_secret_access_key: '{AWS_SECRET_ACCESS_KEY}'
          region_name: eu-west-1
          serialize_json: true

``serialize_json: false`` stores a ``bytes``/``str`` result as it is and ``retrieve`` returns
``bytes``; any other result type is refused with ``TypeError``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from selinon_backends._clients import optional_import, s3_errors
from selinon_backends.storage._env import expand_settings
from selinon_core.datastorage import DataStorage, ExcInfo
from selinon_core.errors import TransientBackendError

from ._loop import LoopThread
from ._records import (
    ERROR_SUFFIX,
    RECORD_SUFFIXES,
    dumps,
    failure_of,
    failure_record,
    loads,
    missing,
    record_parts,
)

__all__ = ["S3", "S3Storage"]

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3(DataStorage):
    """Results as JSON objects in an S3 bucket; thread-safe (one async client, many callers).

    Args:
        bucket: the bucket name.
        location: location constraint used when the adapter creates the bucket.
        endpoint_url: a non-AWS endpoint (MinIO, Ceph, moto...).
        use_ssl: use HTTPS.
        aws_access_key_id: access key (default: the usual AWS credential chain).
        aws_secret_access_key: secret key.
        region_name: the AWS region.
        serialize_json: store results as JSON (see the module docstring).
        prefix: key prefix (see the module docstring).
        create_bucket: create the bucket on :meth:`connect` if it does not exist.
        timeout: seconds one call may take before it fails as transient.
        max_attempts: botocore attempts per request (retries on connection errors).
        max_pool_connections: HTTP connections kept by the client.
    """

    thread_safe = True

    def __init__(
        self,
        bucket: str,
        *,
        location: str | None = None,
        endpoint_url: str | None = None,
        use_ssl: bool = True,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        region_name: str | None = None,
        serialize_json: bool = True,
        prefix: str = "",
        create_bucket: bool = False,
        timeout: float | str = 30.0,
        max_attempts: int | str = 3,
        max_pool_connections: int | str = 20,
    ) -> None:
        env = expand_settings(
            "S3 storage",
            bucket=bucket,
            location=location,
            endpoint_url=endpoint_url,
            use_ssl=use_ssl,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            region_name=region_name,
        )
        bucket, location, endpoint_url = env["bucket"], env["location"], env["endpoint_url"]
        use_ssl, region_name = env["use_ssl"], env["region_name"]
        aws_access_key_id = env["aws_access_key_id"]
        aws_secret_access_key = env["aws_secret_access_key"]
        self.bucket = bucket
        self.location = location or None
        self.endpoint_url = endpoint_url or None
        self.use_ssl = _as_bool(use_ssl)
        self.aws_access_key_id = aws_access_key_id or None
        self.aws_secret_access_key = aws_secret_access_key or None
        self.region_name = region_name or None
        self.serialize_json = _as_bool(serialize_json)
        self.prefix = prefix.strip("/")
        self.create_bucket = _as_bool(create_bucket)
        self.timeout = float(timeout)
        self.max_attempts = int(max_attempts)
        self.max_pool_connections = int(max_pool_connections)
        self._loop: LoopThread | None = None
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._botocore: Any = None

    # ------------------------------------------------------------------ connection

    def connect(self) -> None:
        """Start the loop thread and open the client (creating the bucket if asked)."""
        aioboto3 = optional_import("aioboto3", extra="s3", purpose="S3 storage")
        self._botocore = optional_import("botocore.exceptions", extra="s3", purpose="S3 storage")
        config_mod = optional_import("botocore.config", extra="s3", purpose="S3 storage")
        session = aioboto3.Session(
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            region_name=self.region_name,
        )
        config = config_mod.Config(
            retries={"max_attempts": self.max_attempts, "mode": "standard"},
            connect_timeout=min(self.timeout, 10.0),
            read_timeout=self.timeout,
            max_pool_connections=self.max_pool_connections,
        )
        loop = LoopThread(f"selinon-s3-{self.bucket}")
        stack = contextlib.AsyncExitStack()

        async def open_client() -> Any:
            client = await stack.enter_async_context(
                session.client(
                    "s3", endpoint_url=self.endpoint_url, use_ssl=self.use_ssl, config=config
                )
            )
            if self.create_bucket:
                await self._ensure_bucket(client)
            return client

        try:
            self._client = self._call(loop, open_client())
        except BaseException:
            with contextlib.suppress(Exception):
                loop.run(stack.aclose(), self.timeout)
            loop.close()
            raise
        self._loop, self._stack = loop, stack

    def is_connected(self) -> bool:
        """Whether :meth:`connect` succeeded (and :meth:`disconnect` was not called)."""
        return self._loop is not None

    def disconnect(self) -> None:
        """Close the client and stop the loop thread."""
        loop, stack = self._loop, self._stack
        self._loop, self._stack, self._client = None, None, None
        if loop is not None and stack is not None:
            with contextlib.suppress(Exception):
                loop.run(stack.aclose(), self.timeout)
            loop.close()

    # ------------------------------------------------------------------ the port

    def object_key(self, flow_name: str, task_name: str, task_id: str, suffix: str = "") -> str:
        """The key of the object holding the result of ``task_id``."""
        parts = record_parts(flow_name, task_name, task_id, suffix)
        return "/".join([self.prefix, *parts] if self.prefix else parts)

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The result stored for ``task_id`` (``ResultMissing`` if none)."""
        body = self._read(flow_name, task_name, task_id, "")
        return loads(body) if self.serialize_json else body

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> str:
        """``PutObject`` the result (overwriting); returns the object key."""
        key = self.object_key(flow_name, task_name, task_id)
        self._put(key, self._encode(result))
        return key

    def store_error(
        self,
        node_args: Any,
        flow_name: str,
        task_name: str,
        task_id: str,
        exc_info: ExcInfo,
    ) -> str:
        """``PutObject`` a description of the failure; returns the object key."""
        key = self.object_key(flow_name, task_name, task_id, ERROR_SUFFIX)
        self._put(key, dumps(failure_record(node_args, exc_info)).encode())
        return key

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """The error record kept by :meth:`store_error` (``ResultMissing`` if none)."""
        return failure_of(loads(self._read(flow_name, task_name, task_id, ERROR_SUFFIX)))

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete the result and error objects of ``task_id``; a no-op if there are none."""
        keys = [self.object_key(flow_name, task_name, task_id, s) for s in RECORD_SUFFIXES]
        client = self._conn()

        async def delete() -> None:
            for key in keys:
                await client.delete_object(Bucket=self.bucket, Key=key)

        self._call(self._require_loop(), delete())

    # ------------------------------------------------------------------ internals

    def _encode(self, result: Any) -> bytes:
        if self.serialize_json:
            return dumps(result).encode()
        if isinstance(result, str):
            return result.encode()
        if isinstance(result, bytes | bytearray):
            return bytes(result)
        raise TypeError("S3 storage with serialize_json: false stores only bytes or str results")

    def _read(self, flow_name: str, task_name: str, task_id: str, suffix: str) -> bytes:
        """The body of a record object; ``ResultMissing`` when there is none."""
        body = self._get(self.object_key(flow_name, task_name, task_id, suffix))
        if body is None:
            where = f"S3 storage bucket {self.bucket!r}"
            if suffix == ERROR_SUFFIX:
                where += " (errors)"
            raise missing(where, flow_name, task_name, task_id)
        return body

    def _put(self, key: str, body: bytes) -> None:
        client = self._conn()

        async def put() -> None:
            await client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
            )

        self._call(self._require_loop(), put())

    def _get(self, key: str) -> bytes | None:
        client = self._conn()
        codes = _MISSING_CODES
        client_error = self._botocore.ClientError

        async def get() -> bytes | None:
            try:
                response = await client.get_object(Bucket=self.bucket, Key=key)
            except client_error as exc:
                if exc.response.get("Error", {}).get("Code") in codes:
                    return None
                raise
            async with response["Body"] as stream:
                data = await stream.read()
            return bytes(data)

        body: bytes | None = self._call(self._require_loop(), get())
        return body

    async def _ensure_bucket(self, client: Any) -> None:
        try:
            await client.head_bucket(Bucket=self.bucket)
        except self._botocore.ClientError:
            kwargs: dict[str, Any] = {"Bucket": self.bucket}
            if self.location and self.location != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.location}
            await client.create_bucket(**kwargs)

    def _call(self, loop: LoopThread, coro: Any) -> Any:
        """The choke point: run ``coro`` on the loop, translating botocore exceptions."""
        with s3_errors(what=f"S3 storage bucket {self.bucket!r}"):
            return loop.run(coro, self.timeout)

    def _conn(self) -> Any:
        if self._client is None:
            raise TransientBackendError("S3 storage is not connected; call connect() first")
        return self._client

    def _require_loop(self) -> LoopThread:
        if self._loop is None:
            raise TransientBackendError("S3 storage is not connected; call connect() first")
        return self._loop


S3Storage = S3
"""Selinon's documentation names the class ``S3Storage``; both names work."""


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)
