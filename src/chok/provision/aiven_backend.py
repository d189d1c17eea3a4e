"""The aiven backend: a Kafka service on Aiven, provisioned through Aiven's API.

What Aiven does, chok asks for: the project and a (free-plan) Kafka service,
the channel topics, one service user per person and certificate generation
(``chok-alice``, ``chok-alice.2``, ...: Aiven issues the certificate and key,
its CN is the user name; a ``chok-alice`` made by the original app's
provisioning is adopted, certificate and all), and Aiven ACLs: ``readwrite`` on exactly the two
topics of each channel the person belongs to. Aiven lets a user with read
access use any consumer group. Revoking deletes the user's ACLs and the
service user itself. The free plan allows 5 topics (so 2 channels) and
250 KiB/s in and out.
"""

from __future__ import annotations

import time
from pathlib import Path

from chok import pki
from chok.errors import KafkaError, KafkaTimeoutError, NotFoundError, UsageError
from chok.home import subdir, write_atomic
from chok.protocol.topics import audio_topic, metadata_topic
from chok.provision import access, registry
from chok.provision.aiven_api import DEFAULT_API_URL, AivenApi, load_token
from chok.provision.backend import Identity, Progress
from chok.provision.changes import exclusive
from chok.provision.channels import (
    InitResult,
    check_backend,
    check_channel_count,
    create_channels,
)
from chok.provision.topics import PARTITIONS

DEFAULT_PLAN = "free-0"
DEFAULT_CLOUD = "do-ams"
FREE_PLAN_TOPICS = 5
FREE_PLAN_KIB_S = 250
# One talker's Opus stream, by the original app's own estimate (~250 B every 60 ms).
TALKER_KIB_S = 4.25
USER_PREFIX = "chok-"
REPLICATION = 2  # as the original provisioning made them
POLL_S = 2.0
CREDENTIALS_TIMEOUT_S = 60.0


def username(user: str, generation: int) -> str:
    """The Aiven service user (and Kafka principal) of a certificate generation."""
    return USER_PREFIX + access.common_name(user, generation)


class AivenBackend:
    name = "aiven"

    def __init__(self, api: AivenApi, bootstrap: str, plan: str) -> None:
        self.api = api
        self._bootstrap = bootstrap
        self._plan = plan

    def bootstrap(self) -> str:
        return self._bootstrap

    def topic_limit(self) -> int | None:
        return FREE_PLAN_TOPICS if self._plan.startswith("free") else None

    def ensure_channel(self, number: int) -> list[str]:
        existing = set(self.api.topics())
        wanted = [audio_topic(number), metadata_topic(number)]
        missing = [t for t in wanted if t not in existing]
        limit = self.topic_limit()
        if limit is not None and len(existing) + len(missing) > limit:
            raise UsageError(
                f"channel {number} does not fit: the {self._plan} plan allows {limit} topics "
                f"and {len(existing)} exist (a channel takes 2)",
                hint="upgrade the Aiven plan or use fewer channels",
            )
        for topic in missing:
            self.api.create_topic(
                topic, PARTITIONS, REPLICATION, compact=topic.startswith("chok-metadata-")
            )
        return missing

    def issue(self, user: str, generation: int) -> Identity:
        name = username(user, generation)
        try:
            created = self.api.create_user(name)
        except KafkaError as exc:
            # The user exists: made by the original app's provisioning (whose
            # APK then keeps working) or by an interrupted attempt. Adopt it.
            try:
                created = self.api.get_user(name)
            except NotFoundError:
                raise exc from None
        cert, key = created.get("access_cert"), created.get("access_key")
        deadline = time.monotonic() + CREDENTIALS_TIMEOUT_S
        while not (cert and key):
            # Aiven may issue the certificate a moment after creating the user.
            if time.monotonic() > deadline:
                raise KafkaTimeoutError(f"Aiven issued no certificate for {name} in time")
            time.sleep(POLL_S)
            user_info = self.api.get_user(name)
            cert, key = user_info.get("access_cert"), user_info.get("access_key")
        return Identity(pki.Issued(str(cert).encode(), str(key).encode()), name)

    def _topics(self, channels: list[int]) -> set[str]:
        return {t for n in channels for t in (audio_topic(n), metadata_topic(n))}

    def grant(self, principal: str, user: str, channels: list[int]) -> None:
        have = {
            (a["username"], a["topic"]) for a in self.api.acls() if a["permission"] == "readwrite"
        }
        for topic in sorted(self._topics(channels)):
            if (principal, topic) not in have:
                self.api.add_acl(principal, topic, "readwrite")

    def deny(self, principal: str, user: str, channels: list[int]) -> None:
        topics = self._topics(channels)
        for acl in self.api.acls():
            if acl["username"] == principal and acl["topic"] in topics:
                self.api.delete_acl(acl["id"])

    def publisher(self) -> None:
        """chok holds no Aiven credentials that write records (see docs/security.md)."""
        return None

    def revoke(self, principal: str) -> None:
        for acl in self.api.acls():
            if acl["username"] == principal:
                self.api.delete_acl(acl["id"])
        self.api.delete_user(principal)

    def family(self) -> None:
        """Two topics per person do not fit Aiven's free plan (5 topics): presence,
        heard-by, display names seen by others and channels that reach people
        without a new bundle are not provisioned on Aiven."""
        return None


def open_aiven(reg: registry.Registry) -> AivenBackend:
    s = reg.settings
    token_file = Path(s["token_file"]) if s.get("token_file") else None
    api = AivenApi(
        s.get("api_url", DEFAULT_API_URL), load_token(token_file), s["project"], s["service"]
    )
    return AivenBackend(api, reg.bootstrap, s.get("plan", DEFAULT_PLAN))


def capacity_note(plan: str) -> tuple[int | None, str]:
    """How many channels fit a plan, and the sentence that says so."""
    if not plan.startswith("free"):
        return None, f"plan {plan}: no topic limit known to chok"
    fit = FREE_PLAN_TOPICS // 2
    listeners = int(FREE_PLAN_KIB_S // TALKER_KIB_S)
    return fit, (
        f"the free plan allows {FREE_PLAN_TOPICS} topics: {fit} channels fit (2 topics each); "
        f"{FREE_PLAN_KIB_S} KiB/s out is about {listeners} listeners of one talker"
    )


def _wait_running(api: AivenApi, timeout: float, progress: Progress) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        info = api.get_service()
        if info.get("state") == "RUNNING":
            return info
        if time.monotonic() > deadline:
            raise KafkaTimeoutError(
                f"the Aiven service is still {info.get('state')} after {timeout:.0f} s",
                hint="run `chok admin init --backend aiven` again later",
            )
        progress(f"waiting for the Aiven service ({info.get('state')})...")
        time.sleep(POLL_S)


def _service_uri(info: dict[str, object]) -> str:
    uri = info.get("service_uri")
    if isinstance(uri, str) and uri:
        return uri.removeprefix("kafka+ssl://")
    params = info.get("service_uri_params")
    if isinstance(params, dict) and params.get("host") and params.get("port"):
        return f"{params['host']}:{params['port']}"
    raise UsageError("the Aiven service has no address yet (service_uri is empty)")


@exclusive
def init(
    *,
    project: str,
    service_name: str,
    cloud: str,
    plan: str,
    api_url: str,
    token_file: Path | None,
    channel_count: int,
    wait_s: float,
    remove_wildcard_acls: bool,
    progress: Progress,
) -> InitResult:
    check_channel_count(channel_count)
    fit, capacity = capacity_note(plan)
    if fit is not None and channel_count > fit:
        raise UsageError(f"{channel_count} channels do not fit: {capacity}")
    reg = registry.load()
    check_backend(reg, "aiven")
    api = AivenApi(api_url, load_token(token_file), project, service_name)
    notes = [capacity]
    if not api.project_exists():
        progress(f"creating Aiven project {project}...")
        api.create_project(cloud)
    if not api.service_exists():
        progress(f"creating the {plan} Kafka service {service_name} in {cloud}...")
        api.create_service(plan, cloud)
    info = _wait_running(api, wait_s, progress)
    bootstrap = _service_uri(info)
    ca_path = subdir("cluster") / "server-ca.pem"
    write_atomic(ca_path, api.project_ca().encode())
    reg.backend, reg.bootstrap = "aiven", bootstrap
    reg.settings = {
        "api_url": api.api_url,
        "project": project,
        "service": service_name,
        "plan": plan,
        "cloud": cloud,
        "server_ca": str(ca_path),
        "token_file": str(token_file.resolve()) if token_file else "",
    }
    backend = AivenBackend(api, bootstrap, plan)
    result = create_channels(reg, backend, channel_count)
    notes += _wildcards(api, remove_wildcard_acls)
    return InitResult("aiven", bootstrap, result.channels, result.topics_created, False, fit, notes)


def _wildcards(api: AivenApi, remove: bool) -> list[str]:
    """Find (and with ``remove``, delete) ACLs that grant to every user at once."""
    notes = []
    for acl in api.acls():
        if not any(c in acl["username"] for c in "*?"):
            continue
        what = (
            f"ACL {acl['id']} gives every user matching '{acl['username']}' "
            f"{acl['permission']} on '{acl['topic']}'"
        )
        if remove:
            api.delete_acl(acl["id"])
            notes.append(f"removed {what}")
        else:
            notes.append(
                f"{what}: people are not limited to their channels while it exists "
                "(remove it with --remove-wildcard-acls once every original-app user is added)"
            )
    return notes
