"""Aiven's HTTP API through the official ``aiven-client`` library, errors converted.

Only the calls chok needs, each named after the endpoint it reaches (see
``aiven.client.client.AivenClient``). The API token comes from the
environment (``AIVEN_TOKEN``) or a file, never from the command line, so it
shows in no ``ps`` listing and no shell history; it is never logged or printed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from chok.errors import ConfigError, EnvironmentError_, KafkaError, NotFoundError

DEFAULT_API_URL = "https://api.aiven.io"
TOKEN_ENV = "AIVEN_TOKEN"
T = TypeVar("T")


def load_token(token_file: Path | None) -> str:
    """The API token: from --token-file, else from $AIVEN_TOKEN."""
    if token_file is not None:
        try:
            mode = token_file.stat().st_mode
            token = token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the Aiven token file {token_file}") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{token_file} is readable by other users",
                hint=f"protect it first: chmod 600 {token_file}",
            )
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            "no Aiven API token",
            hint=f"set {TOKEN_ENV} or use --token-file FILE (never on the command line)",
        )
    return token


class AivenApi:
    """The endpoints chok calls, with Aiven's and requests' errors made chok errors."""

    def __init__(self, api_url: str, token: str, project: str, service: str) -> None:
        try:
            from aiven.client.client import AivenClient
        except ImportError as exc:
            raise EnvironmentError_(
                "the aiven backend needs aiven-client", hint="pip install 'chok[aiven]'"
            ) from exc
        self.api_url = api_url.rstrip("/")
        self._client = AivenClient(self.api_url, request_timeout=30)
        self._client.set_auth_token(token)
        self.project, self.service = project, service

    @contextmanager
    def _call(self, what: str) -> Iterator[None]:
        import requests
        from aiven.client.client import Error, ResponseError

        try:
            yield
        except Error as exc:
            status = int(exc.status)
            if status in (401, 403):
                raise ConfigError(
                    f"Aiven refused {what}: {exc}",
                    hint=f"check the token in {TOKEN_ENV}/--token-file and its project access",
                ) from exc
            if status == 404:
                raise NotFoundError(f"Aiven has no such thing ({what}): {exc}") from exc
            raise KafkaError(f"Aiven refused {what}: {exc}") from exc
        except ResponseError as exc:
            raise KafkaError(f"Aiven answered {what} with an error") from exc
        except requests.RequestException as exc:
            raise KafkaError(
                f"cannot reach the Aiven API at {self.api_url} ({type(exc).__name__})"
            ) from exc

    def _run(self, what: str, call: Callable[[], T]) -> T:
        with self._call(what):
            return call()
        raise AssertionError("unreachable")  # pragma: no cover - _call re-raises

    def exists(self, what: str, call: Callable[[], Any]) -> bool:
        try:
            self._run(what, call)
        except NotFoundError:
            return False
        return True

    # -- project ------------------------------------------------------------
    def project_exists(self) -> bool:
        return self.exists("the project", lambda: self._client.get_project(self.project))

    def create_project(self, cloud: str) -> None:
        self._run(
            f"creating project {self.project}",
            lambda: self._client.create_project(self.project, cloud=cloud),
        )

    def project_ca(self) -> str:
        result: Any = self._run("the project CA", lambda: self._client.get_project_ca(self.project))
        return str(result["certificate"])

    # -- service ------------------------------------------------------------
    def get_service(self) -> dict[str, Any]:
        result: Any = self._run(
            f"service {self.service}",
            lambda: self._client.get_service(self.project, self.service),
        )
        return dict(result)

    def service_exists(self) -> bool:
        return self.exists(
            "the service", lambda: self._client.get_service(self.project, self.service)
        )

    def create_service(self, plan: str, cloud: str) -> None:
        self._run(
            f"creating the {plan} Kafka service {self.service} in {cloud}",
            lambda: self._client.create_service(
                self.project, self.service, "kafka", plan, cloud=cloud
            ),
        )

    # -- topics -------------------------------------------------------------
    def topics(self) -> list[str]:
        result: Any = self._run(
            "listing topics", lambda: self._client.list_service_topics(self.project, self.service)
        )
        return [str(t["topic_name"]) for t in result]

    def create_topic(self, name: str, partitions: int, replication: int, compact: bool) -> None:
        self._run(
            f"creating topic {name}",
            lambda: self._client.create_service_topic(
                self.project,
                self.service,
                name,
                partitions=partitions,
                replication=replication,
                min_insync_replicas=1,
                retention_bytes=-1,
                retention_hours=168,
                cleanup_policy="compact" if compact else "delete",
            ),
        )

    # -- service users --------------------------------------------------------
    def create_user(self, username: str) -> dict[str, Any]:
        result: Any = self._run(
            f"creating service user {username}",
            lambda: self._client.create_service_user(self.project, self.service, username),
        )
        return dict(result)

    def get_user(self, username: str) -> dict[str, Any]:
        result: Any = self._run(
            f"service user {username}",
            lambda: self._client.get_service_user(self.project, self.service, username),
        )
        return dict(result)

    def delete_user(self, username: str) -> None:
        with suppress(NotFoundError):  # already gone: that is what was asked
            self._run(
                f"deleting service user {username}",
                lambda: self._client.delete_service_user(self.project, self.service, username),
            )

    # -- ACLs ---------------------------------------------------------------
    def acls(self) -> list[dict[str, str]]:
        return [
            {k: str(v) for k, v in entry.items()} for entry in self.get_service().get("acl", [])
        ]

    def add_acl(self, username: str, topic: str, permission: str) -> None:
        self._run(
            f"granting {username} {permission} on {topic}",
            lambda: self._client.add_service_kafka_acl(
                self.project, self.service, permission, topic, username
            ),
        )

    def delete_acl(self, acl_id: str) -> None:
        with suppress(NotFoundError):
            self._run(
                f"deleting ACL {acl_id}",
                lambda: self._client.delete_service_kafka_acl(self.project, self.service, acl_id),
            )
