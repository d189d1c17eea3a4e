"""The timeline as a Qt list model, and the delegate that draws one recording.

A model and a painting delegate (not a widget per row) keep 10,000 entries
cheap: only the visible rows are ever drawn.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from chok.channel.family import Names
from chok.channel.timeline import Entry
from chok.protocol.display import UNKNOWN, moment_local, safe_emoji
from chok.protocol.display import seconds_text as shown_seconds
from chok.protocol.heard import HeardIndex
from chok.protocol.people import shown

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
VERIFIED_MARK = "\u2713"
Index = QModelIndex | QPersistentModelIndex


def when_text(timestamp_ms: int, now: dt.datetime | None = None) -> str:
    moment = moment_local(timestamp_ms)
    if moment is None:
        return UNKNOWN  # a record's time past the year 9999
    today = (now or dt.datetime.now()).date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    if (today - moment.date()).days < 7:
        return moment.strftime("%a %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def seconds_text(ms: int) -> str:
    return shown_seconds(ms)


class TimelineModel(QAbstractListModel):
    def __init__(self, me: str) -> None:
        super().__init__()
        self.me = me
        self.rows: list[Entry] = []
        self.unheard: set[int] = set()
        self.playing: tuple[int, int, int] | None = None  # id, played ms, total ms
        self.names = Names()  # display names of the family
        self.heard = HeardIndex()  # who heard what on this channel

    def who(self, entry: Entry) -> str:
        tx = entry.transmission
        return shown(self.names.of(tx.user_id, tx.display_name))

    def heard_by(self, entry: Entry) -> list[str]:
        tx = entry.transmission
        users = self.heard.heard_by(tx.start_offset, tx.end_offset, tx.user_id)
        return [shown(self.names.of(user), 24) for user in users]

    def set_family(self, names: Names, heard: HeardIndex) -> None:
        """New display names or heard ranges: every row is drawn again."""
        self.names, self.heard = names, heard
        if self.rows:
            self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        entry = self.rows[index.row()]
        if role == ENTRY_ROLE:
            return entry
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self.describe(entry)
        return None

    def describe(self, entry: Entry) -> str:
        """One line a screen reader (or a test) can read."""
        tx = entry.transmission
        verdict = entry.authenticity
        parts = [self.who(entry), when_text(tx.timestamp_ms), seconds_text(tx.duration_ms)]
        if verdict.verified:
            parts.append("verified")
        elif verdict.forged:
            parts.append(f"FORGED: {verdict.reason}")
        parts += [f"{safe_emoji(emoji)} {len(names)}" for emoji, names in entry.reactions.items()]
        heard_by = self.heard_by(entry)
        if heard_by:
            parts.append("heard by " + ", ".join(heard_by))
        if entry.id in self.unheard:
            parts.append("unheard")
        if not entry.audio_available:
            parts.append("archived" if entry.archived else "audio expired")
        return ", ".join(parts)

    def set_entries(self, entries: list[Entry]) -> None:
        self.beginResetModel()
        self.rows = list(entries)
        self.endResetModel()

    def row_of(self, entry_id: int) -> int | None:
        for row, entry in enumerate(self.rows):
            if entry.id == entry_id:
                return row
        return None

    def update_entry(self, entry: Entry) -> None:
        row = self.row_of(entry.id)
        if row is not None:
            self.rows[row] = entry
            self._changed(row)

    def set_unheard(self, ids: list[int]) -> None:
        self.unheard = set(ids)
        if self.rows:
            self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1))

    def set_playing(self, entry_id: int | None, played_ms: int = 0, total_ms: int = 0) -> None:
        before = self.playing[0] if self.playing else None
        self.playing = None if entry_id is None else (entry_id, played_ms, total_ms)
        for changed in {before, entry_id}:
            row = None if changed is None else self.row_of(changed)
            if row is not None:
                self._changed(row)

    def _changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row), self.index(row))


class EntryDelegate(QStyledItemDelegate):
    """Two lines: who, when, how long (and new / expired); the reactions below."""

    def __init__(self, model: TimelineModel) -> None:
        super().__init__()
        self.model = model

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        line = QFontMetrics(option.font).height()
        return QSize(line * 16, int(line * 3.4))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        entry = index.data(ENTRY_ROLE)
        if not isinstance(entry, Entry):
            return
        rect: QRect = option.rect
        palette = option.palette
        font: QFont = option.font
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(rect, palette.highlight() if selected else palette.base())
        text_colour = palette.highlightedText().color() if selected else palette.text().color()
        line = QFontMetrics(font).height()
        pad = line // 2
        x, y = rect.left() + pad, rect.top() + pad
        tx = entry.transmission
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_colour)
        playing = self.model.playing is not None and self.model.playing[0] == entry.id
        meta = f"{when_text(tx.timestamp_ms)}  \u00b7  {seconds_text(tx.duration_ms)}"
        meta_width = QFontMetrics(font).horizontalAdvance(meta)
        # The name gives way (elided with "…"), never the time nor the badge.
        room = rect.right() - x - meta_width - pad - self._badge_width(font, line, entry) - line
        who = ("\u25b6 " if playing else "") + self.model.who(entry)
        who = QFontMetrics(bold).elidedText(who, Qt.TextElideMode.ElideRight, max(line, room))
        painter.drawText(x, y + QFontMetrics(bold).ascent(), who)
        x += QFontMetrics(bold).horizontalAdvance(who) + pad
        if entry.authenticity.verified:  # signed by the person named
            painter.setPen(QColor("#2e7d32") if not selected else text_colour)
            painter.drawText(x - pad // 2, y + QFontMetrics(bold).ascent(), VERIFIED_MARK)
            x += QFontMetrics(bold).horizontalAdvance(VERIFIED_MARK) + pad
            painter.setPen(text_colour)
        painter.setFont(font)
        painter.drawText(x, y + QFontMetrics(font).ascent(), meta)
        self._badges(painter, rect, y, line, font, entry)
        end = self._reactions(painter, rect.left() + pad, y + line + pad // 2, line, font, entry)
        quiet = text_colour if selected else palette.placeholderText().color()
        self._heard_by(
            painter, end, rect.right() - pad, y + line + pad // 2, line, font, entry, quiet
        )
        if playing and self.model.playing is not None:
            _, played, total = self.model.playing
            share = min(1.0, played / total) if total else 0.0
            bar = QRect(rect.left(), rect.bottom() - 3, int(rect.width() * share), 4)
            painter.fillRect(bar, QColor("#1565c0"))
        painter.setPen(palette.mid().color())
        painter.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom())
        painter.restore()

    def _badge(self, entry: Entry) -> tuple[str, QColor] | None:
        if entry.authenticity.forged:
            return ("\u26a0 forged", QColor("#c62828"))
        if not entry.audio_available:
            if entry.archived:
                return ("archived", QColor("#6d4c41"))
            return ("audio expired", QColor("#9e9e9e"))
        if entry.id in self.model.unheard:
            return ("unheard", QColor("#1565c0"))
        return None

    def _badge_width(self, font: QFont, line: int, entry: Entry) -> int:
        badge = self._badge(entry)
        if badge is None:
            return 0
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.85)
        return QFontMetrics(small).horizontalAdvance(badge[0]) + line + line // 2

    def _heard_by(
        self,
        painter: QPainter,
        x: int,
        right: int,
        y: int,
        line: int,
        font: QFont,
        entry: Entry,
        colour: QColor,
    ) -> None:
        names = self.model.heard_by(entry)
        if not names or right - x < line * 3:
            return
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.9)
        metrics = QFontMetrics(small)
        text = metrics.elidedText(
            "heard by " + ", ".join(names), Qt.TextElideMode.ElideRight, right - x
        )
        painter.setFont(small)
        painter.setPen(colour)
        painter.drawText(x, y + (int(line * 1.3) + metrics.ascent() - metrics.descent()) // 2, text)
        painter.setFont(font)

    def _badges(
        self, painter: QPainter, rect: QRect, y: int, line: int, font: QFont, entry: Entry
    ) -> None:
        badge = self._badge(entry)
        if badge is None:
            return
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.85)
        metrics = QFontMetrics(small)
        width = metrics.horizontalAdvance(badge[0]) + line
        box = QRect(rect.right() - width - line // 2, y, width, line)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(badge[1])
        painter.drawRoundedRect(box, line / 2, line / 2)
        painter.setPen(QColor("white"))
        painter.setFont(small)
        painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), badge[0])
        painter.setFont(font)

    def _reactions(
        self,
        painter: QPainter,
        x: int,
        y: int,
        line: int,
        font: QFont,
        entry: Entry,
    ) -> int:
        """Draw the reactions as pills; return where the next thing may start."""
        metrics = QFontMetrics(font)
        for emoji, names in entry.reactions.items():
            text = f"{safe_emoji(emoji)} {len(names)}"
            width = metrics.horizontalAdvance(text) + line
            box = QRect(x, y, width, int(line * 1.3))
            mine = self.model.me in names
            painter.setPen(QColor("#1565c0") if mine else QColor("#bdbdbd"))
            painter.setBrush(QColor("#bbdefb") if mine else QColor("#f5f5f5"))
            painter.drawRoundedRect(box, box.height() / 2, box.height() / 2)
            painter.setPen(QColor("#0d47a1") if mine else QColor("#424242"))
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
            x += width + line // 2
        return x
