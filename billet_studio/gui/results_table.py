"""The results page's table: rows in the paper's Table 3 layout (evaluation x test subset)
as a Qt model, and a delegate that paints each metric as a bar with its 95 % interval as
a whisker and the value as text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QPointF,
    QRectF,
    Qt,
)
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from billet_studio.evaluation.scoring import SUBSET_TITLES
from billet_studio.experiments.results import METRICS
from billet_studio.gui.billet_table import ROOT, Index

#: Columns before the metrics: header and row key.
LEAD_COLUMNS = (("Evaluation", "experiment"), ("Synthetic", "synthetic"),
                ("Subset", "subset"), ("Billets", "billets"))
FIRST_METRIC = len(LEAD_COLUMNS)
#: The metric cell's dict ({value, low, high, seed_sd}) for the delegate.
CELL_ROLE = Qt.ItemDataRole.UserRole + 1
#: The column's bar scale (a rate of 1.0, or more where FP exceed the digits).
SCALE_ROLE = Qt.ItemDataRole.UserRole + 2
#: Higher is better for these; the error rates are drawn in a warmer colour.
GOOD = frozenset({"TP", "CB", "CB_prior"})
GOOD_BAR, BAD_BAR = QColor(110, 170, 230), QColor(240, 160, 110)
WHISKER = QColor(40, 40, 40)
#: The subsets as the narrow column names them (the tooltip gives the full title).
SHORT_SUBSETS = {"all": "All", "well": "Well visible", "poor_or_partial": "Poor or partial",
                 "poor": "Poorly visible", "partial": "Partially visible"}


def percent(cell: dict[str, Any] | None) -> str:
    """A metric cell as 'value [low–high]' percent ('–' when undefined)."""
    if not cell or cell.get("value") is None:
        return "–"
    text = f"{100 * cell['value']:.1f}"
    if cell.get("low") is not None and cell.get("high") is not None:
        text += f" [{100 * cell['low']:.1f}–{100 * cell['high']:.1f}]"
    return text


class ResultsTableModel(QAbstractTableModel):
    """Rows of ``experiments.project_results.project_rows`` (already filtered)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[dict[str, Any]] = []
        self.scales: dict[str, float] = {}

    def set_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.scales = {m: max([1.0, *(c.get("high") or c.get("value") or 0.0 for c in (
            r.get(m) for r in self.rows) if c)]) for m in METRICS}
        self.endResetModel()

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else FIRST_METRIC + len(METRICS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return (LEAD_COLUMNS[section][0] if section < FIRST_METRIC
                    else METRICS[section - FIRST_METRIC].replace("_", " "))
        if role == Qt.ItemDataRole.ToolTipRole and section >= FIRST_METRIC:
            return ("Percent of digits (TP, MC, FN, FP) or billets (CB; CB prior reads the "
                    "ID with the format prior); the whisker is the 95 % bootstrap interval")
        return None

    def metric(self, column: int) -> str | None:
        return METRICS[column - FIRST_METRIC] if column >= FIRST_METRIC else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        metric = self.metric(index.column())
        if metric is not None:
            cell = row.get(metric)
            if role == Qt.ItemDataRole.DisplayRole:
                return percent(cell)
            if role == CELL_ROLE:
                return cell
            if role == SCALE_ROLE:
                return self.scales.get(metric, 1.0)
            if role == Qt.ItemDataRole.ToolTipRole:
                return self._cell_tooltip(row, metric, cell)
            return None
        key = LEAD_COLUMNS[index.column()][1]
        value = row.get(key)
        if role == Qt.ItemDataRole.DisplayRole:
            if key == "synthetic":
                return "–" if value is None else f"{100 * value:.0f} %"
            if key == "subset":
                return SHORT_SUBSETS.get(value, value)
            if key == "experiment":  # may break after a slash when it wraps
                return str(value).replace("/", "/\u200b")
            return str(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "experiment":
                seeds = f"{row['seeds']} seeds averaged\n" if row["seeds"] > 1 else ""
                return seeds + "\n".join(row.get("folders", ()))
            if key == "subset":
                return SUBSET_TITLES.get(value, value)
            if key == "synthetic":
                return ("provenance unknown (no training run or dataset manifest found)"
                        if value is None else
                        f"{100 * value:.1f} % synthetic of {row.get('images')} training "
                        "images")
        if role == Qt.ItemDataRole.TextAlignmentRole and key in ("synthetic", "billets"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _cell_tooltip(row: dict[str, Any], metric: str, cell: dict[str, Any] | None) -> str:
        text = f"{metric} {percent(cell)} %"
        if cell and cell.get("seed_sd") is not None:
            text += f"\n±{100 * cell['seed_sd']:.1f} sd over {row['seeds']} seeds"
        return text + f"\n{row['digits']} digits, {row['billets']} billets"


class MetricBarDelegate(QStyledItemDelegate):
    """A rate as a bar from zero, its 95 % interval as a whisker, the value as text."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        cell = index.data(CELL_ROLE)
        self.initStyleOption(option, index)
        option.text = ""
        if option.widget is not None:
            option.widget.style().drawControl(QStyle.ControlElement.CE_ItemViewItem, option,
                                              painter, option.widget)
        painter.save()
        inner = QRectF(option.rect).adjusted(3, 3, -3, -3)
        # The number takes the right end, the bar and whisker the rest.
        text_width = QFontMetrics(option.font).horizontalAdvance("100.0") + 6
        bar = QRectF(inner.left(), inner.top(), max(0.0, inner.width() - text_width),
                     inner.height())
        value = cell.get("value") if cell else None
        if value is not None and bar.width() > 4:
            scale = float(index.data(SCALE_ROLE) or 1.0)

            def x_of(rate: float) -> float:
                return bar.left() + bar.width() * max(0.0, min(rate / scale, 1.0))

            metric = index.model().metric(index.column())  # type: ignore[attr-defined]
            painter.fillRect(QRectF(bar.left(), bar.top() + 1, x_of(value) - bar.left(),
                                    bar.height() - 2), GOOD_BAR if metric in GOOD else BAD_BAR)
            if cell.get("low") is not None and cell.get("high") is not None:
                painter.setPen(QPen(WHISKER, 1.2))
                middle, tick = bar.center().y(), bar.height() * 0.28
                low, high = x_of(cell["low"]), x_of(cell["high"])
                painter.drawLine(QPointF(low, middle), QPointF(high, middle))
                for x in (low, high):
                    painter.drawLine(QPointF(x, middle - tick), QPointF(x, middle + tick))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(option.palette.highlightedText().color() if selected
                       else option.palette.text().color())
        painter.drawText(inner, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                         "–" if value is None else f"{100 * value:.1f}")
        painter.restore()
