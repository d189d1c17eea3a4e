"""Listener processes for the cost benchmarks: each runs alone, so the broker's
bytes to it and its CPU and memory are its own.

    python -m chok.bench.listeners original PROFILE TOPIC
        an original-app-like consumer (subscribe, librdkafka's defaults)

Prints ``ready`` once tuned in, then listens until it is terminated.
(``chok listen`` itself is run as the chok listener.)
"""

from __future__ import annotations

import sys

from chok import profiles
from chok.bench import original


def run_original(profile: str, topic: str) -> None:
    creds = profiles.load(profile).credentials
    consumer, _ = original.subscribe_live(creds, topic)
    print("ready", flush=True)
    try:
        while True:
            consumer.poll(0.1)  # the original app's consume loop
    finally:
        consumer.close()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "original":
        print(__doc__, file=sys.stderr)
        return 2
    run_original(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
