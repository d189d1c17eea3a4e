"""Start, stop and inspect the local Kafka broker process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chok.broker import KAFKA_VERSION
from chok.broker import config as cfg
from chok.broker.jars import ensure_kafka_jars
from chok.broker.java import find_java
from chok.errors import BrokerError, ChokError, CorruptDataError, PortInUseError
from chok.kafka.admin import Admin
from chok.kafka.client import Credentials
from chok.pki.cluster import ClusterFiles, cluster_files, ensure_credentials

Progress = Callable[[str], None]
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    address: str | None
    kafka_version: str
    data_dir: str
    uptime_s: float | None
    log_file: str


def admin_credentials(settings: cfg.BrokerSettings, files: ClusterFiles) -> Credentials:
    # chok's own admin work goes over loopback: the advertised name may be
    # a LAN address that this machine reaches only through its router.
    return Credentials(
        f"127.0.0.1:{settings.port}", files.ca_cert, files.admin_cert, files.admin_key
    )


def _pid_file() -> Path:
    return cfg.broker_dir() / "broker.pid"


def _running_pid() -> int | None:
    try:
        pid = int(_pid_file().read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # A pid may be reused by an unrelated program after a reboot.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid
    return pid if b"kafka.Kafka" in cmdline else None


def _port_free(port: int, address: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def _check_ports(settings: cfg.BrokerSettings) -> None:
    for port, addr in (
        (settings.port, settings.bind_address),
        (settings.controller_port, "127.0.0.1"),
    ):
        if not _port_free(port, addr):
            raise PortInUseError(
                f"port {port} is already in use by another program",
                hint="stop it, or pick other ports with `chok broker start --port N`",
            )


def _check_data_dir(settings: cfg.BrokerSettings) -> bool:
    """Return True when the data dir is formatted; raise when it is damaged."""
    data = cfg.data_dir()
    meta = data / "meta.properties"
    if not data.exists() or not any(data.iterdir()):
        return False
    if not meta.exists():
        raise CorruptDataError(
            f"the broker data in {data} is damaged (meta.properties is missing)",
            hint="move that directory away to start with an empty broker",
        )
    text = meta.read_text(errors="replace")
    if f"cluster.id={settings.cluster_id}" not in text:
        raise CorruptDataError(
            f"the broker data in {data} belongs to another cluster",
            hint="move that directory away, or restore its broker.json",
        )
    return True


def _format_storage(java: Path, libs: Path, props: Path, settings: cfg.BrokerSettings) -> None:
    cmd = [str(java), "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
           "--standalone", "-t", settings.cluster_id, "-c", str(props)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines() or ["unknown error"]
        raise BrokerError(f"could not format the broker's storage: {lines[-1]}")


def _class_archive_options(libs: Path) -> list[str]:
    """Start faster from a class-data archive (AppCDS) of Kafka's classes.

    The first start writes the archive when the broker exits (to a private
    name, moved into place by ``stop``); later starts map it instead of loading
    and verifying thousands of classes. A stale or foreign archive is ignored
    by the JVM (-Xshare:auto), never fatal.
    """
    archive = libs.parent / "kafka.jsa"
    if archive.exists():
        return [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto"]
    pending = libs.parent / f"kafka.jsa.{os.getpid()}"
    (cfg.broker_dir() / "cds-pending").write_text(f"{pending}\n{archive}")
    return [f"-XX:ArchiveClassesAtExit={pending}"]


def _finish_class_archive(keep: bool) -> None:
    marker = cfg.broker_dir() / "cds-pending"
    try:
        pending, archive = marker.read_text().splitlines()
    except (OSError, ValueError):
        return
    marker.unlink(missing_ok=True)
    if keep and Path(pending).exists():
        os.replace(pending, archive)
    else:
        Path(pending).unlink(missing_ok=True)


def _java_command(java: Path, libs: Path, props: Path, log4j: Path, heap_mb: int) -> list[str]:
    return [
        str(java),
        *_class_archive_options(libs),
        f"-Xmx{heap_mb}m",
        f"-Xms{min(heap_mb, 256)}m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        # C1 only: a family's broker handles tens of records a second, where
        # the full JIT's peak speed buys nothing and its start-up costs seconds.
        "-XX:TieredStopAtLevel=1",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        f"-Dkafka.logs.dir={cfg.log_dir()}",
        "-cp",
        f"{libs}/*",
        "kafka.Kafka",
        str(props),
    ]


def start(
    *,
    port: int | None = None,
    hosts: list[str] | None = None,
    progress: Progress | None = None,
) -> tuple[Status, float, bool]:
    """Start the broker (idempotent). Return its status, seconds taken, and whether it started."""
    began = time.monotonic()
    say = progress or (lambda _line: None)
    settings = cfg.load_settings() or cfg.BrokerSettings()
    settings = _apply_options(settings, port, hosts)
    if _running_pid() is not None:
        return status(), time.monotonic() - began, False
    java = find_java()
    libs = ensure_kafka_jars(say)
    files = cluster_files()
    ensure_credentials(files, settings.hosts)
    _check_ports(settings)
    formatted = _check_data_dir(settings)
    props, log4j = cfg.write_configs(settings, files)
    cfg.save_settings(settings)
    if not formatted:
        say("formatting the broker's storage (first start)...")
        _format_storage(java, libs, props, settings)
    proc = _spawn(_java_command(java, libs, props, log4j, settings.heap_mb))
    _wait_ready(proc, settings, files, say)
    return status(), time.monotonic() - began, True


def _apply_options(
    settings: cfg.BrokerSettings, port: int | None, hosts: list[str] | None
) -> cfg.BrokerSettings:
    if port is not None:
        if not 1024 <= port <= 65534:
            raise BrokerError(f"port {port} is out of range: use 1024 to 65534")
        settings.port, settings.controller_port = port, port + 1
    for host in hosts or []:
        if host not in settings.hosts:
            settings.hosts.append(host)
    return settings


def _spawn(cmd: list[str]) -> subprocess.Popen[bytes]:
    console = cfg.log_dir() / "console.log"
    console.parent.mkdir(parents=True, exist_ok=True)
    with open(console, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the terminal that started it
            cwd=cfg.broker_dir(),
        )
    _pid_file().write_text(str(proc.pid))
    (cfg.broker_dir() / "started_at").write_text(str(time.time()))
    return proc


def _wait_ready(
    proc: subprocess.Popen[bytes],
    settings: cfg.BrokerSettings,
    files: ClusterFiles,
    say: Progress,
) -> None:
    """Return once an mTLS client can use the broker; fail if the process dies."""
    admin = Admin(admin_credentials(settings, files))
    deadline = time.monotonic() + READY_TIMEOUT
    last_error: ChokError | None = None
    say("waiting for the broker to accept mTLS clients...")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise _explain_exit()
        try:
            if admin.ping(timeout=1.0) >= 1:
                return
        except ChokError as exc:
            last_error = exc
        time.sleep(0.2)  # poll interval between readiness probes, not a fixed wait
    stop()
    detail = f": {last_error}" if last_error else ""
    raise BrokerError(f"the broker did not become ready in {READY_TIMEOUT:.0f} s{detail}")


def _explain_exit() -> ChokError:
    _pid_file().unlink(missing_ok=True)
    text = ""
    for name in ("server.log", "console.log"):
        with contextlib.suppress(OSError):
            text += (cfg.log_dir() / name).read_text(errors="replace")[-20000:]
    if "Address already in use" in text:
        return PortInUseError(
            "the broker's port is already in use by another program",
            hint="pick other ports with `chok broker start --port N`",
        )
    if "meta.properties" in text or "Invalid cluster.id" in text:
        return CorruptDataError(
            f"the broker data in {cfg.data_dir()} is damaged",
            hint="see `chok broker logs`; move that directory away to start empty",
        )
    errors = [ln for ln in text.splitlines() if " ERROR " in ln or "Exception" in ln]
    detail = errors[-1][:200] if errors else "see `chok broker logs`"
    return BrokerError(f"the broker stopped during start-up: {detail}")


def stop(timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the broker; return False when it was not running."""
    pid = _running_pid()
    if pid is None:
        _pid_file().unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)  # Kafka shuts down cleanly on SIGTERM
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _running_pid() is not None:
        time.sleep(0.1)
    killed = _running_pid() is not None
    if killed:
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    _pid_file().unlink(missing_ok=True)
    _finish_class_archive(keep=not killed)  # a killed JVM left half an archive
    return True


def status() -> Status:
    settings = cfg.load_settings()
    pid = _running_pid()
    uptime = None
    if pid is not None:
        with contextlib.suppress(OSError, ValueError):
            uptime = time.time() - float((cfg.broker_dir() / "started_at").read_text())
    return Status(
        running=pid is not None,
        pid=pid,
        address=settings.bootstrap if settings else None,
        kafka_version=KAFKA_VERSION,
        data_dir=str(cfg.data_dir()),
        uptime_s=uptime,
        log_file=str(cfg.log_dir() / "server.log"),
    )


def free_port_pair() -> int:
    """A port p such that p (clients) and p+1 (controller) are free on loopback."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 65535 and _port_free(port + 1, "127.0.0.1"):
            return port
    raise BrokerError("no free pair of ports on this machine")
