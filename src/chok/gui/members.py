"""The member list: a dot (online or not), the name, and when each was last seen.

Names are drawn elided with "…" inside the row: however long a display name
is, the list asks for the same width, so it never widens the window.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QLabel,
    QListView,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from chok.channel.family import Member
from chok.protocol.people import shown

MEMBER_ROLE = Qt.ItemDataRole.UserRole + 1
ONLINE, AWAY = QColor("#2e7d32"), QColor("#bdbdbd")
Index = QModelIndex | QPersistentModelIndex


def seen_text(member: Member, now_s: float | None = None) -> str:
    if member.online:
        return "online"
    if member.last_seen_ms is None:
        return "not seen yet"
    ago = max(0, int((now_s if now_s is not None else time.time()) - member.last_seen_ms / 1000))
    if ago < 60:
        return "just now"
    if ago < 3600:
        return f"{ago // 60} min ago"
    if ago < 86400:
        return f"{ago // 3600} h ago"
    return f"{ago // 86400} d ago"


class MembersModel(QAbstractListModel):
    def __init__(self, me: str) -> None:
        super().__init__()
        self.me = me
        self.rows: list[Member] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        member = self.rows[index.row()]
        if role == MEMBER_ROLE:
            return member
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self.describe(member)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{shown(member.display_name or member.user)} ({member.user}): {seen_text(member)}"
            )
        return None

    def describe(self, member: Member) -> str:
        you = " (you)" if member.user == self.me else ""
        return f"{shown(member.display_name or member.user)}{you}, {seen_text(member)}"

    def set_members(self, members: list[Member]) -> None:
        # Online first, then by name as people see it.
        ordered = sorted(
            members, key=lambda m: (not m.online, (m.display_name or m.user).casefold())
        )
        self.beginResetModel()
        self.rows = ordered
        self.endResetModel()


class MemberDelegate(QStyledItemDelegate):
    def __init__(self, me: str) -> None:
        super().__init__()
        self.me = me

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        line = QFontMetrics(option.font).height()
        return QSize(line * 8, int(line * 1.6))  # the same whatever the name

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        member = index.data(MEMBER_ROLE)
        if not isinstance(member, Member):
            return
        rect: QRect = option.rect
        font: QFont = option.font
        metrics = QFontMetrics(font)
        line = metrics.height()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(rect, palette.highlight() if selected else palette.base())
        dot = line // 2
        top = rect.top() + (rect.height() - dot) // 2
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(ONLINE if member.online else AWAY)
        painter.drawEllipse(rect.left() + line // 2, top, dot, dot)
        x = rect.left() + line + dot
        status = seen_text(member)
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.85)
        small_metrics = QFontMetrics(small)
        status_width = min(small_metrics.horizontalAdvance(status) + 2, rect.width() // 2)
        name_width = max(0, rect.right() - x - status_width - line)
        name = shown(member.display_name or member.user)
        name += " (you)" if member.user == self.me else ""
        painter.setPen(palette.highlightedText().color() if selected else palette.text().color())
        painter.setFont(font)
        baseline = rect.top() + (rect.height() + metrics.ascent() - metrics.descent()) // 2
        painter.drawText(
            x, baseline, metrics.elidedText(name, Qt.TextElideMode.ElideRight, name_width)
        )
        painter.setFont(small)
        painter.setPen(palette.mid().color() if not selected else palette.highlightedText().color())
        painter.drawText(
            rect.right() - status_width - line // 2,
            baseline,
            small_metrics.elidedText(status, Qt.TextElideMode.ElideRight, status_width),
        )
        painter.restore()


class MembersPane(QWidget):
    """ "Family": who is online now (green dot) and when the others were last seen."""

    def __init__(self, me: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = MembersModel(me)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("<b>Family</b>")
        layout.addWidget(self.title)
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setItemDelegate(MemberDelegate(me))
        self.list.setUniformItemSizes(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setAccessibleName("Family members: who is online")
        self.list.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.list)
        line = self.fontMetrics().height()
        # Five people without scrolling (a row is 1.6 lines); the button keeps its room.
        self.list.setMaximumHeight(int(line * 1.6 * 5) + line // 2)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_members(self, members: list[Member]) -> None:
        self.model.set_members(members)
        online = sum(1 for m in members if m.online)
        self.title.setText(f"<b>Family</b> \u00b7 {online} online")
