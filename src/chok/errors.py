"""The one exception tree of chok.

Every error a user can meet is a ``ChokError`` with a message that a person
understands; third-party errors (librdkafka, PyAV, PortAudio, cryptography,
the JVM) are converted into these at the module that calls the library.
The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``.

    ChokError
    ├── UsageError            bad input on the command line or in a file       (2)
    │   └── BadBundleError    a bundle file or link that cannot be installed    (2)
    ├── ConfigError           missing/invalid chok state: no profile, no CA...  (3)
    │   └── ProfileNotFoundError                                                 (3)
    ├── EnvironmentError_     something this machine lacks: JDK, Maven, device   (4)
    │   ├── JavaNotFoundError                                                    (4)
    │   ├── AudioDeviceError                                                     (4)
    │   └── StorageError      a folder that cannot be written: read-only, full,
    │                         not permitted                                      (4)
    ├── BrokerError           the local broker would not start/stop/answer       (5)
    │   ├── PortInUseError                                                       (5)
    │   └── CorruptDataError                                                     (5)
    ├── KafkaError            the cluster refused or did not answer              (6)
    │   ├── AccessDeniedError authorization failed (no ACL, revoked user)        (7)
    │   │   └── NotAMemberError  a channel the person's bundle does not list     (7)
    │   ├── AuthenticationError TLS handshake refused                            (7)
    │   └── KafkaTimeoutError nothing answered in time                           (6)
    ├── CodecError            audio could not be encoded/decoded/read            (8)
    └── NotFoundError         a transmission, user or channel that is not there  (9)
        └── TopicMissingError the cluster shows no such topic (to a stranger,
                              Kafka hides topics it may not see)                 (9)
"""

from __future__ import annotations

import errno
import os


class ChokError(Exception):
    """Base of every error chok reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(ChokError):
    exit_code = 2


class BadBundleError(UsageError):
    pass


class ConfigError(ChokError):
    exit_code = 3


class ProfileNotFoundError(ConfigError):
    pass


class EnvironmentError_(ChokError):  # trailing _: not the builtin EnvironmentError
    exit_code = 4


class JavaNotFoundError(EnvironmentError_):
    pass


class AudioDeviceError(EnvironmentError_):
    pass


class StorageError(EnvironmentError_):
    pass


class BrokerError(ChokError):
    exit_code = 5


class PortInUseError(BrokerError):
    pass


class CorruptDataError(BrokerError):
    pass


class KafkaError(ChokError):
    exit_code = 6


class KafkaTimeoutError(KafkaError):
    pass


class AccessDeniedError(KafkaError):
    exit_code = 7


class NotAMemberError(AccessDeniedError):
    """Told by the bundle itself, before asking the cluster."""


class AuthenticationError(KafkaError):
    exit_code = 7


class CodecError(ChokError):
    exit_code = 8


class NotFoundError(ChokError):
    exit_code = 9


class TopicMissingError(NotFoundError):
    pass


_STORAGE_REASONS = {
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file would be too large for this disk",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "the disk reported an input/output error",
}
_MISSING_PLACE = {errno.ENOENT, errno.ENOTDIR}


def storage_error(exc: OSError, action: str) -> ChokError:
    """An OSError of reading or writing a file, as one line a person understands.

    ``action`` says what chok was doing ("write /x/alice.chok"). A place that
    does not exist is bad input (UsageError); a disk that cannot take the
    write (read-only, full, not permitted) is a StorageError.
    """
    if exc.errno in _MISSING_PLACE:
        # The file itself was being created: what is missing is its folder.
        name = exc.filename if isinstance(exc.filename, str) else None
        folder = f" {os.path.dirname(name)}" if name and os.path.dirname(name) else ""
        return UsageError(f"cannot {action}: the folder{folder} does not exist")
    if exc.errno == errno.EISDIR:
        return UsageError(f"cannot {action}: that is a folder")
    reason = _STORAGE_REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
    return StorageError(f"cannot {action}: {reason}")
