"""A guard against a reference-count bug of PySide6 6.12 on Python 3.11.

Measured here (PySide6 6.12.0, CPython 3.11.7): every call of a Qt method
that returns nothing takes one reference from ``None``, and every signal
``emit`` one from ``True``. On Python 3.12 and later these objects are
immortal and nothing happens; on 3.11 their counts run down as the app works
and the interpreter aborts ("Fatal Python error: none_dealloc" or
"bool_dealloc") after some thousands of calls: minutes into a session, or at
exit.

``pin_singletons`` does what Python 3.12 does (PEP 683): it gives ``None``,
``True`` and ``False`` a reference count so high that no leak can bring it to
zero. They are static objects that are never freed anyway, so nothing else
changes. It runs once, when ``chok.gui`` is imported, before any Qt object.
"""

from __future__ import annotations

import ctypes
import platform
import sys

_PINNED = 1 << 40  # ~10^12 lost references before trouble; a count never overflows


def pin_singletons() -> bool:
    """Make None/True/False effectively immortal on CPython < 3.12; True if done."""
    if sys.version_info >= (3, 12) or platform.python_implementation() != "CPython":
        return False
    for singleton in (None, True, False):
        count = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt, the first field
        if count.value < _PINNED:
            count.value += _PINNED
    return True
