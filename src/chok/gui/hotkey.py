"""Push-to-talk from anywhere: a global hotkey over pynput.

pynput watches the keyboard of the whole desktop (X11's RECORD extension,
Windows' hooks, macOS' event taps) without taking the key from other apps.
Its events are turned into one press and one release per hold: a key held
down repeats "down" events (auto-repeat), which never split the hold. The
window feeds these to the same path as Space.

Where the desktop does not allow it, ``hotkey_problem`` says why in one
sentence: Wayland without X (no app may see keys typed in other windows), no
display at all, macOS without the Accessibility permission.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal

DEFAULT_HOTKEY = "<f8>"

_QT_NAMES = {
    "ctrl": "<ctrl>", "alt": "<alt>", "shift": "<shift>", "meta": "<cmd>",
    "space": "<space>", "pause": "<pause>", "scrolllock": "<scroll_lock>", "ins": "<insert>",
    "del": "<delete>", "home": "<home>", "end": "<end>", "pgup": "<page_up>",
    "pgdown": "<page_down>", "menu": "<menu>", "capslock": "<caps_lock>", "tab": "<tab>",
    "esc": "<esc>", "return": "<enter>", "enter": "<enter>", "up": "<up>", "down": "<down>",
    "left": "<left>", "right": "<right>", "backspace": "<backspace>",
}  # fmt: skip
_SHOWN = {v: k.capitalize() for k, v in _QT_NAMES.items()} | {"<cmd>": "Meta"}


def hotkey_problem(
    environ: dict[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Why a global hotkey cannot work on this desktop, or None if it can."""
    env = os.environ if environ is None else environ
    where = platform or sys.platform
    if where.startswith("linux"):
        if env.get("DISPLAY"):
            return None
        if env.get("WAYLAND_DISPLAY"):
            return (
                "Wayland does not let an app see keys pressed in other windows: "
                "run chok under X11 (or XWayland, with DISPLAY set), or hold Space in the window"
            )
        return "no X11 display (DISPLAY is not set): hold Space in the window instead"
    return None


def macos_permission_problem() -> str:
    return (
        "macOS blocked the hotkey: allow chok (or your terminal) under System Settings, "
        "Privacy & Security, Accessibility and Input Monitoring, then restart chok"
    )


def from_qt(text: str) -> str:
    """A Qt key sequence ("Ctrl+Alt+Space", "F8") as pynput's hotkey text."""
    parts = []
    for part in text.replace(" ", "").split("+"):
        low = part.lower()
        if not low:
            continue
        if low in _QT_NAMES:
            parts.append(_QT_NAMES[low])
        elif low.startswith("f") and low[1:].isdigit():
            parts.append(f"<{low}>")
        elif len(low) == 1:
            parts.append(low)
        else:
            raise ValueError(f"the key {part!r} cannot be a hotkey")
    if not parts:
        raise ValueError("choose a key for the hotkey")
    return "+".join(parts)


def shown(hotkey: str) -> str:
    """pynput's hotkey text for people: "<ctrl>+<f8>" -> "Ctrl+F8"."""
    out = []
    for part in hotkey.split("+"):
        if part in _SHOWN:
            out.append(_SHOWN[part])
        elif part.startswith("<") and part.endswith(">"):
            out.append(part[1:-1].upper() if part[1:2] == "f" else part[1:-1].capitalize())
        else:
            out.append(part.upper())
    return "+".join(out)


class ComboTracker:
    """Keys down and up in, one press and one release per hold of the whole combination out.

    Auto-repeat repeats "down" for a held key: ignored while held. Releasing
    any key of the combination ends the hold.
    """

    def __init__(self, combo: Iterable[Any]) -> None:
        self.combo = frozenset(combo)
        self._down: set[Any] = set()
        self.held = False

    def down(self, key: Any) -> bool:
        """True when this makes the combination held (a press)."""
        if key not in self.combo:
            return False
        self._down.add(key)
        if not self.held and self._down >= self.combo:
            self.held = True
            return True
        return False

    def up(self, key: Any) -> bool:
        """True when this ends the hold (a release)."""
        self._down.discard(key)
        if self.held and key in self.combo:
            self.held = False
            return True
        return False


class GlobalHotkey(QObject):
    """Watches the desktop's keyboard for ``hotkey`` (pynput text such as "<f8>")."""

    pressed = Signal()
    released = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._listener: Any = None
        self.stopping: Any = None  # the last listener stopped (a thread that may linger)
        self.hotkey: str | None = None
        self.problem: str | None = None

    def start(self, hotkey: str, problem: Callable[[], str | None] = hotkey_problem) -> str | None:
        """Start watching; return why it cannot (None when it works)."""
        self.stop()
        self.problem = problem()
        if self.problem is not None:
            return self.problem
        try:
            from pynput import keyboard
        except ImportError as exc:  # not installed, or no backend for this desktop
            self.problem = f"the global hotkey needs pynput ({exc}): pip install 'chok[gui]'"
            return self.problem
        try:
            combo = [keyboard.KeyCode.from_char(k) if isinstance(k, str) else k
                     for k in keyboard.HotKey.parse(hotkey)]  # fmt: skip
        except ValueError as exc:
            self.problem = f"{hotkey!r} is not a key the hotkey can use ({exc})"
            return self.problem
        tracker = ComboTracker(combo)
        listener: Any = None

        def canonical(key: Any) -> Any:
            return listener.canonical(key) if listener is not None else key

        def on_press(key: Any) -> None:
            if self._listener is listener and tracker.down(canonical(key)):
                self.pressed.emit()

        def on_release(key: Any) -> None:
            if self._listener is listener and tracker.up(canonical(key)):
                self.released.emit()

        listener = keyboard.Listener(on_press=on_press, on_release=on_release)
        listener.start()
        listener.wait()
        if sys.platform == "darwin" and not getattr(listener, "IS_TRUSTED", True):
            listener.stop()
            self.problem = macos_permission_problem()
            return self.problem
        self._listener, self.hotkey = listener, hotkey
        return None

    def apply(self, on: bool, hotkey: str) -> tuple[str, bool] | None:
        """Turn it on (with this key) or off; what to tell the person (text, is an
        error), or None when nothing changed."""
        if not on:
            self.stop()
            return None
        if self.active and self.hotkey == hotkey:
            return None
        problem = self.start(hotkey)
        if problem is not None:
            return f"no global hotkey: {problem}", True
        return f"hold {shown(hotkey)} in any app to talk", False

    @property
    def active(self) -> bool:
        return self._listener is not None

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        self.hotkey = None
        if listener is not None:
            listener.stop()
            # On X11 its thread ends at the next key event anywhere (RECORD only
            # returns with data); it is a daemon and, stopped, it says nothing.
            self.stopping = listener
