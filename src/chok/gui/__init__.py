"""The desktop app (PySide6): views and view-models over the channel use cases.

    run_app(profile, channel, input_device, output_device) -> exit code

Modules: ``app`` (which window), ``join_window`` + ``joining`` (first start),
``main_window`` + ``main_layout`` + ``widgets`` + ``keys`` + ``talk_keys``
(the big button, who talks), ``scan_binding`` (the other channels),
``timeline_view`` + ``timeline_model`` (the recordings), ``settings_dialog``,
``notify``; the view-model ``viewmodel`` (with ``channel_timeline`` and
``ptt``) over ``listening``, ``talking``, ``replaying`` and ``heard``; ``tasks``
keeps every wait off the UI thread and ``audio_io`` holds the (injectable)
sound devices.
"""

from __future__ import annotations

import os
import sys

from chok.errors import EnvironmentError_

NO_DISPLAY = (
    "no display: the desktop app needs a graphical session "
    "(set DISPLAY or WAYLAND_DISPLAY); run `chok demo` for the headless demo"
)


def check_display(environ: dict[str, str] | None = None, platform: str | None = None) -> None:
    """Raise a one-line error where no window can be shown (Linux without X11/Wayland)."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return
    if env.get("QT_QPA_PLATFORM") or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return
    raise EnvironmentError_(NO_DISPLAY)


def run_app(
    profile: str | None,
    channel: int | None = None,
    input_device: str | None = None,
    output_device: str | None = None,
    minimized: bool = False,
) -> int:
    check_display()
    try:
        from chok.gui.app import run
    except ImportError as exc:
        missing = str(exc)
        if "PySide6" in missing:
            raise EnvironmentError_(
                "the desktop app needs PySide6: pip install 'chok[gui]'"
            ) from exc
        raise EnvironmentError_(
            f"Qt cannot start ({missing}); on Debian/Ubuntu install libegl1, "
            "libxkbcommon-x11-0 and libxcb-cursor0"
        ) from exc
    return run(profile, channel, input_device, output_device, minimized)
