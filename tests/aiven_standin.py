"""A local stand-in for the part of Aiven's API that chok's aiven backend calls.

Aiven cannot be reached from the test machines, so this ``http.server`` on
127.0.0.1 answers the same endpoints, written from Aiven's public API
documentation (https://api.aiven.io/doc/) and the aiven-client library:

    GET    /v1/project/{p}                          ProjectGet
    POST   /v1/project                              ProjectCreate
    GET    /v1/project/{p}/kms/ca                   ProjectKmsGetCA
    GET    /v1/project/{p}/service/{s}              ServiceGet (state, service_uri, users, acl)
    POST   /v1/project/{p}/service                  ServiceCreate
    GET    /v1/project/{p}/service/{s}/topic        ServiceKafkaTopicList
    POST   /v1/project/{p}/service/{s}/topic        ServiceKafkaTopicCreate
    POST   /v1/project/{p}/service/{s}/user         ServiceUserCreate (access_cert, access_key)
    GET    /v1/project/{p}/service/{s}/user/{u}     ServiceUserGet
    DELETE /v1/project/{p}/service/{s}/user/{u}     ServiceUserDelete
    POST   /v1/project/{p}/service/{s}/acl          ServiceKafkaAclAdd
    DELETE /v1/project/{p}/service/{s}/acl/{id}     ServiceKafkaAclDelete

Its "Kafka service" is the real test broker: the project CA is that broker's
CA, each service user gets a real certificate with CN = user name, and Aiven
ACLs (read/write/readwrite/admin on topic patterns, for user patterns) are
turned into Kafka ACLs for the existing users and topics, as Aiven does.
Assumptions where the documentation is silent, kept deliberately simple: a
new service reports REBUILDING once, then RUNNING; a new service holds
Aiven's documented default ACL (avnadmin: admin on every topic); a deleted
service user loses what the ACLs gave it; the free plan allows 5 topics of
at most 2 partitions; topics are created with replication 1 (one broker).
"""

from __future__ import annotations

import fnmatch
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chok import pki
from chok.kafka.acls import Grant
from chok.kafka.admin import Admin, TopicSpec

_USERNAME = re.compile(r"^[a-zA-Z0-9_?][a-zA-Z0-9-_?*.]{0,63}$")
_ACL_USER = re.compile(r"^[-._*?A-Za-z0-9]+$")
_PERMISSIONS = {
    "read": ("READ", "DESCRIBE"),
    "write": ("WRITE", "DESCRIBE"),
    "readwrite": ("READ", "WRITE", "DESCRIBE"),
    "admin": ("ALL",),
}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Service:
    name: str
    plan: str
    cloud: str
    polls_until_running: int = 1
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    acl: list[dict[str, str]] = field(default_factory=list)
    applied: set[Grant] = field(default_factory=set)


class AivenStandIn:
    def __init__(self, token: str, admin: Admin, bootstrap: str, ca: pki.Issued) -> None:
        self.token = token
        self._admin, self._bootstrap, self._ca = admin, bootstrap, ca
        self.projects: dict[str, dict[str, Any]] = {}
        self.services: dict[tuple[str, str], Service] = {}
        self.requests: list[tuple[str, str, bool]] = []  # method, path, authorized
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def bootstrap(self) -> str:
        return self._bootstrap

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> AivenStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- routing ---------------------------------------------------------------
    def handle(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:1] != ["v1"]:
            raise ApiError(404, "Not found")
        p = parts[1:]
        with self._lock:
            if p == ["project"] and method == "POST":
                return self._create_project(body)
            if len(p) >= 2 and p[0] == "project":
                project = self._project(p[1])
                rest = p[2:]
                if not rest and method == "GET":
                    return 200, {"project": project}
                if rest == ["kms", "ca"] and method == "GET":
                    return 200, {"certificate": self._ca.cert_pem.decode()}
                if rest == ["service"] and method == "POST":
                    return self._create_service(p[1], body)
                if len(rest) >= 2 and rest[0] == "service":
                    return self._service_call(method, self._service(p[1], rest[1]), rest[2:], body)
        raise ApiError(404, "Not found")

    def _service_call(
        self, method: str, svc: Service, rest: list[str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if not rest and method == "GET":
            return 200, {"service": self._service_json(svc)}
        if rest == ["topic"] and method == "GET":
            return 200, {"topics": list(svc.topics.values())}
        if rest == ["topic"] and method == "POST":
            return self._create_topic(svc, body)
        if rest == ["user"] and method == "POST":
            return self._create_user(svc, body)
        if len(rest) == 2 and rest[0] == "user":
            user = svc.users.get(rest[1])
            if user is None:
                raise ApiError(404, "Service user does not exist")
            if method == "GET":
                return 200, {"user": user}
            if method == "DELETE":
                del svc.users[rest[1]]
                self._sync(svc)
                return 200, {"message": "deleted"}
        if rest == ["acl"] and method == "POST":
            return self._add_acl(svc, body)
        if len(rest) == 2 and rest[0] == "acl" and method == "DELETE":
            before = len(svc.acl)
            svc.acl = [a for a in svc.acl if a["id"] != rest[1]]
            if len(svc.acl) == before:
                raise ApiError(404, "ACL entry does not exist")
            self._sync(svc)
            return 200, {"acl": svc.acl, "message": "deleted"}
        raise ApiError(404, "Not found")

    # -- resources -------------------------------------------------------------
    def _project(self, name: str) -> dict[str, Any]:
        if name not in self.projects:
            raise ApiError(404, f"Project '{name}' does not exist")
        return self.projects[name]

    def _service(self, project: str, name: str) -> Service:
        svc = self.services.get((project, name))
        if svc is None:
            raise ApiError(404, f"Service '{name}' does not exist")
        return svc

    def _create_project(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = str(body.get("project", ""))
        if not re.fullmatch(r"[a-z][-a-z0-9]{0,62}", name):
            raise ApiError(400, "Invalid project name")
        if name in self.projects:
            raise ApiError(409, "Project already exists")
        self.projects[name] = {"project_name": name, "default_cloud": body.get("cloud")}
        return 201, {"project": self.projects[name]}

    def _create_service(self, project: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name, plan = str(body.get("service_name", "")), str(body.get("plan", ""))
        if body.get("service_type") != "kafka":
            raise ApiError(400, "This stand-in only runs Kafka services")
        if (project, name) in self.services:
            raise ApiError(409, "Service already exists")
        if plan.startswith("free") and any(
            s.plan.startswith("free") for (p, _), s in self.services.items() if p == project
        ):
            raise ApiError(403, "Only one free Kafka service is allowed")
        svc = Service(name, plan, str(body.get("cloud")))
        svc.acl.append(
            {"id": "default", "permission": "admin", "topic": "*", "username": "avnadmin"}
        )
        self.services[(project, name)] = svc
        return 200, {"service": self._service_json(svc, polled=False)}

    def _service_json(self, svc: Service, polled: bool = True) -> dict[str, Any]:
        if svc.polls_until_running > 0 and not polled:
            state = "REBUILDING"
        elif svc.polls_until_running > 0:
            svc.polls_until_running -= 1
            state = "REBUILDING"
        else:
            state = "RUNNING"
        return {
            "service_name": svc.name,
            "service_type": "kafka",
            "plan": svc.plan,
            "cloud_name": svc.cloud,
            "state": state,
            "service_uri": self._bootstrap if state == "RUNNING" else "",
            "users": list(svc.users.values()),
            "acl": list(svc.acl),
        }

    def _create_topic(self, svc: Service, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = str(body.get("topic_name", ""))
        partitions = int(body.get("partitions", 1))
        if name in svc.topics:
            raise ApiError(409, "Topic already exists")
        if svc.plan.startswith("free"):
            if len(svc.topics) >= 5:
                raise ApiError(400, "The free plan allows at most 5 topics")
            if partitions > 2:
                raise ApiError(400, "The free plan allows at most 2 partitions per topic")
        policy = str(body.get("cleanup_policy", "delete"))
        self._admin.create_topics([TopicSpec(name, partitions, 1, {"cleanup.policy": policy})])
        svc.topics[name] = {
            "topic_name": name,
            "partitions": partitions,
            "replication": int(body.get("replication", 1)),
            "cleanup_policy": policy,
        }
        self._sync(svc)
        return 200, {"message": "created"}

    def _create_user(self, svc: Service, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = str(body.get("username", ""))
        if not _USERNAME.fullmatch(name) or "*" in name or "?" in name:
            raise ApiError(400, "Invalid username")
        if name in svc.users:
            raise ApiError(409, "Service user already exists")
        issued = pki.issue(self._ca, name)
        svc.users[name] = {
            "username": name,
            "type": "normal",
            "password": secrets.token_urlsafe(12),
            "access_cert": issued.cert_pem.decode(),
            "access_key": issued.key_pem.decode(),
        }
        self._sync(svc)
        return 200, {"user": svc.users[name], "message": "created"}

    def _add_acl(self, svc: Service, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        permission, topic = str(body.get("permission")), str(body.get("topic", ""))
        username = str(body.get("username", ""))
        if permission not in _PERMISSIONS:
            raise ApiError(400, "permission must be read, write, readwrite or admin")
        if not _ACL_USER.fullmatch(username) or not _ACL_USER.fullmatch(topic):
            raise ApiError(400, "Invalid username or topic pattern")
        entry = {"id": "acl" + secrets.token_hex(6), "permission": permission, "topic": topic,
                 "username": username}  # fmt: skip
        svc.acl.append(entry)
        self._sync(svc)
        return 200, {"acl": svc.acl, "message": "added"}

    def seed_acl(self, project: str, service: str, username: str, topic: str, perm: str) -> None:
        """Add an ACL as the original project's Terraform did (for migration tests)."""
        with self._lock:
            self._add_acl(
                self._service(project, service),
                {"permission": perm, "topic": topic, "username": username},
            )

    def _sync(self, svc: Service) -> None:
        """Make the broker's ACLs say what the Aiven ACL entries say."""
        desired: set[Grant] = set()
        for entry in svc.acl:
            users = [u for u in svc.users if fnmatch.fnmatchcase(u, entry["username"])]
            topics = [t for t in svc.topics if fnmatch.fnmatchcase(t, entry["topic"])]
            for user in users:
                for topic in topics:
                    for op in _PERMISSIONS[entry["permission"]]:
                        desired.add(Grant(user, "topic", topic, op))
                if users and entry["permission"] in ("read", "readwrite", "admin"):
                    # Aiven lets a reader use any consumer group.
                    desired |= {Grant(user, "group", "*", op) for op in ("READ", "DESCRIBE")}
        self._admin.revoke(svc.applied - desired)
        self._admin.grant(desired - svc.applied)
        svc.applied = desired

    # -- HTTP ------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                auth = self.headers.get("authorization", "")
                ok = auth in (f"aivenv1 {standin.token}", f"Bearer {standin.token}")
                standin.requests.append((method, self.path, ok))
                try:
                    if not ok:
                        raise ApiError(403, "Authentication failed")
                    length = int(self.headers.get("content-length") or 0)
                    raw = self.rfile.read(length) if length else b""
                    try:
                        body = json.loads(raw) if raw.strip() else {}
                    except ValueError as exc:
                        raise ApiError(400, "Request body is not JSON") from exc
                    status, answer = standin.handle(method, self.path, body)
                except ApiError as exc:
                    status = exc.status
                    answer = {
                        "message": exc.message,
                        "errors": [{"message": exc.message, "status": status}],
                    }
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
