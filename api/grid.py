"""The three tables laid out as the template prints them, for the review UI's editable grid.

Built from the template data (schemas.template), never from a report's own labels: every report of a
layout gets the same grid, so a reviewer's eye and keys learn one shape. A cell slot carries its flat
key; the UI fills in the value, status and provenance of the report under review.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gouji.schemas.template import T3_GROUPS, T4_GROUPS, T4_LEAVES, TABLE2, CellSpec, Layout, cell_specs


@dataclass
class GridRow:
    label: str
    keys: list[str | None]  # one per column; None where this row has no such cell
    heading: bool = False  # a label-only row (a block caption, a group of sub-rows)
    indent: int = 0


Head = tuple[str, int, int]  # label, colspan, rowspan


@dataclass
class Grid:
    title: str
    header: list[list[Head]]  # header rows, the label column included
    rows: list[GridRow] = field(default_factory=list)


def grids(layout: Layout) -> list[Grid]:
    """Table 二 as one grid per caption block (their columns differ), then tables 三 and 四."""
    applications = [s for s in cell_specs(layout) if s.table == "applications"]
    return [*_table2(layout), _table3(applications), _table4()]


def _table2(layout: Layout) -> list[Grid]:
    out = []
    for i, b in enumerate(TABLE2[layout.version]):
        title = ("二、主动公开政府信息情况 · " if i == 0 else "") + b.caption
        grid = Grid(title, [[("信息内容", 1, 1)] + [(c.label, 1, 1) for c in b.columns]])
        for r in b.rows:
            grid.rows.append(GridRow(r.label, [f"active_disclosure.{b.key}.{r.key}.{c.key}" for c in b.columns]))
        out.append(grid)
    return out


def _table3(specs: list[CellSpec]) -> Grid:
    columns: list[tuple[str, str]] = []
    rows: dict[str, str] = {}
    for s in specs:
        column = (s.path[-1], s.col_label)
        if column not in columns:
            columns.append(column)
        rows.setdefault(s.key[len("applications.") : s.key.rindex(".")], s.row_label)
    middle = [label for key, label in columns if key not in ("natural_person", "total")]
    header: list[list[Head]] = [
        [("", 1, 3), ("申请人情况", len(columns), 1)],
        [("自然人", 1, 2), ("法人或其他组织", len(middle), 1), ("总计", 1, 2)],
        [(label, 1, 1) for label in middle],
    ]
    grid = Grid("三、收到和处理政府信息公开申请情况", header)
    groups = {g.key: g.label for g in T3_GROUPS}
    seen: set[str] = set()
    for row_key, label in rows.items():
        group = row_key.split(".")[0] if "." in row_key else None
        if row_key == "disclosed":
            grid.rows.append(GridRow(groups["outcome"], [None] * len(columns), heading=True))
        if group and group not in seen:
            seen.add(group)
            grid.rows.append(GridRow(groups[group], [None] * len(columns), heading=True, indent=1))
        indent = 2 if group else 0 if row_key in ("new_received", "carried_over", "carried_forward") else 1
        grid.rows.append(GridRow(label, [f"applications.{row_key}.{c}" for c, _ in columns], indent=indent))
    return grid


def _table4() -> Grid:
    n = len(T4_LEAVES)
    header: list[list[Head]] = [
        [("", 1, 3), (T4_GROUPS[0][1], n, 2), ("行政诉讼", n * 2, 1)],
        [(label, n, 1) for _, label in T4_GROUPS[1:]],
        [(leaf, 1, 1) for _ in T4_GROUPS for _, leaf in T4_LEAVES],
    ]
    keys: list[str | None] = [f"review_litigation.{g}.{leaf}" for g, _ in T4_GROUPS for leaf, _ in T4_LEAVES]
    return Grid("四、政府信息公开行政复议、行政诉讼情况", header, [GridRow("", keys)])
