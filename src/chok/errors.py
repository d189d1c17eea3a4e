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
    │   └── AudioDeviceError                                                     (4)
    ├── BrokerError           the local broker would not start/stop/answer       (5)
    │   ├── PortInUseError                                                       (5)
    │   └── CorruptDataError                                                     (5)
    ├── KafkaError            the cluster refused or did not answer              (6)
    │   ├── AccessDeniedError authorization failed (no ACL, revoked user)        (7)
    │   ├── AuthenticationError TLS handshake refused                            (7)
    │   └── KafkaTimeoutError nothing answered in time                           (6)
    ├── CodecError            audio could not be encoded/decoded/read            (8)
    └── NotFoundError         a transmission, user or channel that is not there  (9)
        └── TopicMissingError the cluster shows no such topic (to a stranger,
                              Kafka hides topics it may not see)                 (9)
"""

from __future__ import annotations


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


class AuthenticationError(KafkaError):
    exit_code = 7


class CodecError(ChokError):
    exit_code = 8


class NotFoundError(ChokError):
    exit_code = 9


class TopicMissingError(NotFoundError):
    pass
