"""One broker node as an operating-system process: its JVM, storage and pid.

Every node of the local cluster runs the same way: the same JVM options
(class-data archive, C1-only JIT), its own data and log directories, its own
pid file. ``process`` decides which nodes to start and when they are ready.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from chok.broker import config as cfg
from chok.errors import BrokerError, ChokError, CorruptDataError, PortInUseError

STOP_TIMEOUT = 30.0


def running_pid(node: cfg.NodePaths) -> int | None:
    try:
        pid = int(node.pid_file.read_text().strip())
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
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid
    if state == "Z":  # killed, not yet reaped by the process that started it
        return None
    return pid if b"kafka.Kafka" in cmdline else None


def uptime(node: cfg.NodePaths) -> float | None:
    with contextlib.suppress(OSError, ValueError):
        return time.time() - float(node.started_at.read_text())
    return None


def check_data_dir(node: cfg.NodePaths, cluster_id: str) -> bool:
    """Return True when the data dir is formatted; raise when it is damaged."""
    data = node.data
    meta = data / "meta.properties"
    if not data.exists() or not any(data.iterdir()):
        return False
    if not meta.exists():
        raise CorruptDataError(
            f"the broker data in {data} is damaged (meta.properties is missing)",
            hint="move that directory away to start with an empty broker",
        )
    text = meta.read_text(errors="replace")
    if f"cluster.id={cluster_id}" not in text:
        raise CorruptDataError(
            f"the broker data in {data} belongs to another cluster",
            hint="move that directory away, or restore its broker.json",
        )
    return True


def format_storage(
    java: Path, libs: Path, props: list[Path], cluster_id: str, standalone: bool
) -> None:
    """Format the nodes' storage, all at once (one short JVM each)."""
    extra = ["--standalone"] if standalone else []  # else the voters are in the config
    procs = [
        subprocess.Popen(
            [
                str(java),
                *_archive_use(libs),
                "-XX:TieredStopAtLevel=1",
                "-cp",
                f"{libs}/*",
                "kafka.tools.StorageTool",
                "format",
                *extra,
                "-t",
                cluster_id,
                "-c",
                str(p),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in props
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            lines = (err or out).strip().splitlines() or ["unknown error"]
            raise BrokerError(f"could not format the broker's storage: {lines[-1]}")


def _archive(libs: Path) -> Path:
    return libs.parent / "kafka.jsa"


def _archive_use(libs: Path) -> list[str]:
    archive = _archive(libs)
    return [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto"] if archive.exists() else []


def _class_archive_options(libs: Path, node: cfg.NodePaths, may_write: bool) -> list[str]:
    """Start faster from a class-data archive (AppCDS) of Kafka's classes.

    The first start writes the archive when the broker exits (to a private
    name, moved into place by ``stop``); later starts map it instead of loading
    and verifying thousands of classes. A stale or foreign archive is ignored
    by the JVM (-Xshare:auto), never fatal. Of several nodes started together
    only one writes it.
    """
    use = _archive_use(libs)
    if use or not may_write:
        return use
    pending = libs.parent / f"kafka.jsa.{os.getpid()}.{node.id}"
    node.cds_marker.write_text(f"{pending}\n{_archive(libs)}")
    return [f"-XX:ArchiveClassesAtExit={pending}"]


def finish_class_archive(node: cfg.NodePaths, keep: bool) -> None:
    try:
        pending, archive = node.cds_marker.read_text().splitlines()
    except (OSError, ValueError):
        return
    node.cds_marker.unlink(missing_ok=True)
    if keep and Path(pending).exists():
        os.replace(pending, archive)
    else:
        Path(pending).unlink(missing_ok=True)


def java_command(
    java: Path, libs: Path, node: cfg.NodePaths, log4j: Path, heap_mb: int, write_archive: bool
) -> list[str]:
    return [
        str(java),
        *_class_archive_options(libs, node, write_archive),
        f"-Xmx{heap_mb}m",
        f"-Xms{min(heap_mb, 256)}m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        # C1 only: a family's broker handles tens of records a second, where
        # the full JIT's peak speed buys nothing and its start-up costs seconds.
        "-XX:TieredStopAtLevel=1",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        f"-Dkafka.logs.dir={node.logs}",
        "-cp",
        f"{libs}/*",
        "kafka.Kafka",
        str(node.props),
    ]


def spawn(cmd: list[str], node: cfg.NodePaths) -> subprocess.Popen[bytes]:
    console = node.logs / "console.log"
    console.parent.mkdir(parents=True, exist_ok=True)
    with open(console, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the terminal that started it
            cwd=node.root,
        )
    node.pid_file.write_text(str(proc.pid))
    node.started_at.write_text(str(time.time()))
    return proc


def explain_exit(node: cfg.NodePaths) -> ChokError:
    node.pid_file.unlink(missing_ok=True)
    text = ""
    for name in ("server.log", "console.log"):
        with contextlib.suppress(OSError):
            text += (node.logs / name).read_text(errors="replace")[-20000:]
    if "Address already in use" in text:
        return PortInUseError(
            "the broker's port is already in use by another program",
            hint="pick other ports with `chok broker start --port N`",
        )
    if "meta.properties" in text or "Invalid cluster.id" in text:
        return CorruptDataError(
            f"the broker data in {node.data} is damaged",
            hint="see `chok broker logs`; move that directory away to start empty",
        )
    errors = [ln for ln in text.splitlines() if " ERROR " in ln or "Exception" in ln]
    detail = errors[-1][:200] if errors else "see `chok broker logs`"
    return BrokerError(f"the broker stopped during start-up: {detail}")


def stop_nodes(nodes: list[cfg.NodePaths], timeout: float = STOP_TIMEOUT) -> list[int]:
    """Stop these nodes together (SIGTERM: Kafka shuts down cleanly, handing its
    partitions over); return the ids of those that were running."""
    pids = {node.id: pid for node in nodes if (pid := running_pid(node)) is not None}
    for node in nodes:
        if node.id not in pids:
            node.pid_file.unlink(missing_ok=True)
    for pid in pids.values():
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    by_id = {node.id: node for node in nodes}
    while time.monotonic() < deadline and any(running_pid(by_id[i]) for i in pids):
        time.sleep(0.1)  # poll interval while the JVMs shut down
    for node_id, pid in pids.items():
        node = by_id[node_id]
        killed = running_pid(node) is not None
        if killed:
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        node.pid_file.unlink(missing_ok=True)
        finish_class_archive(node, keep=not killed)  # a killed JVM left half an archive
    return sorted(pids)
