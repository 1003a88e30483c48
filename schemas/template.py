"""The State Council report template (2019 and 2021 formats) declared as data.

Everything that knows "which cells exist" reads this module: the report model, the flat cell keys,
the identities, the extractor and the JSON export. Keeping the template in one table means a label
variant or a new optional row is one edit, not a hunt through parsing code.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

Version = Literal["2019", "2021"]
VERSIONS: tuple[Version, ...] = ("2019", "2021")
CellKind = Literal["int", "signed", "money"]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: CellKind = "int"
    unit: str | None = "件"
    unit_source: Literal["template", "header", "unknown"] = "template"


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    # Distinctive fragments used to find the label in damaged text (matched on the compact view:
    # NFKC, no whitespace). The first fragment that is found wins; all are tried.
    fragments: tuple[str, ...]
    # Ordinal printed before the label ("1." / "（一）" / "一、"); glued digits before a label are an
    # ordinal, not a cell value (deviation D23).
    ordinal: str | None = None


@dataclass(frozen=True)
class Block:
    """One caption block of table 二 (第二十条第（N）项)."""

    key: str
    caption: str
    numeral: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]


# ---------------------------------------------------------------------------------------------
# Table 二


def _cols_2019_items(with_decisions: bool) -> tuple[Column, ...]:
    cols = (
        Column("items_prev_year", "上一年项目数量", unit="个"),
        Column("items_change", "本年增/减", kind="signed", unit="个"),
    )
    return (*cols, Column("decisions", "处理决定数量")) if with_decisions else cols


_REGULATIONS = Row("regulations", "规章", ("规章",))
_LICENSING = Row("administrative_licensing", "行政许可", ("行政许可",))
_FEES = Row("administrative_fees", "行政事业性收费", ("行政事业性收费", "事业性收费"))
_ART20_6_ROWS = (
    Row("administrative_penalty", "行政处罚", ("行政处罚",)),
    Row("administrative_coercion", "行政强制", ("行政强制",)),
)

TABLE2: dict[Version, tuple[Block, ...]] = {
    "2019": (
        Block(
            "art20_1",
            "第二十条第（一）项",
            "一",
            (_REGULATIONS, Row("normative_documents", "规范性文件", ("规范性文件",))),
            (
                Column("newly_made", "本年新制作数量"),
                Column("newly_published", "本年新公开数量"),
                Column("total_published", "对外公开总数量"),
            ),
        ),
        Block(
            "art20_5",
            "第二十条第（五）项",
            "五",
            (
                _LICENSING,
                Row("other_external_services", "其他对外管理服务事项", ("其他对外管理服务事项", "对外管理服务")),
            ),
            _cols_2019_items(True),
        ),
        Block(
            "art20_6",
            "第二十条第（六）项",
            "六",
            _ART20_6_ROWS,
            _cols_2019_items(True),
        ),
        Block(
            "art20_8",
            "第二十条第（八）项",
            "八",
            (_FEES,),
            _cols_2019_items(False),
        ),
        Block(
            "art20_9",
            "第二十条第（九）项",
            "九",
            (Row("centralized_procurement", "政府集中采购", ("政府集中采购", "集中采购")),),
            (
                Column("procurement_items", "采购项目数量", unit="个"),
                Column("procurement_amount", "采购总金额", kind="money", unit=None, unit_source="unknown"),
            ),
        ),
    ),
    "2021": (
        Block(
            "art20_1",
            "第二十条第（一）项",
            "一",
            (_REGULATIONS, Row("normative_documents", "行政规范性文件", ("行政规范性文件", "规范性文件"))),
            (
                Column("issued", "本年制发件数"),
                Column("repealed", "本年废止件数"),
                Column("currently_valid", "现行有效件数"),
            ),
        ),
        Block(
            "art20_5",
            "第二十条第（五）项",
            "五",
            (_LICENSING,),
            (Column("decisions", "本年处理决定数量"),),
        ),
        Block(
            "art20_6",
            "第二十条第（六）项",
            "六",
            _ART20_6_ROWS,
            (Column("decisions", "本年处理决定数量"),),
        ),
        Block(
            "art20_8",
            "第二十条第（八）项",
            "八",
            (_FEES,),
            (Column("fee_amount", "本年收费金额（单位：万元）", kind="money", unit="万元", unit_source="header"),),
        ),
    ),
}

# Header words of table 二 (used as label boundaries when reading flattened text).
TABLE2_HEADER_WORDS: tuple[str, ...] = (
    "信息内容",
    "本年新制作数量",
    "本年新公开数量",
    "对外公开总数量",
    "上一年项目数量",
    "本年增/减",
    "本年增/",
    "处理决定数量",
    "本年处理决定数量",
    "采购项目数量",
    "采购总金额",
    "本年制发件数",
    "本年废止件数",
    "现行有效件数",
    "本年收费金额(单位:万元)",
    "本年收费金额",
)

# ---------------------------------------------------------------------------------------------
# Table 三

APPLICANT_COLUMNS: tuple[Column, ...] = (
    Column("natural_person", "自然人"),
    Column("commercial_enterprise", "商业企业"),
    Column("research_institution", "科研机构"),
    Column("public_welfare_org", "社会公益组织"),
    Column("legal_service_org", "法律服务机构"),
    Column("other_org", "其他"),
    Column("total", "总计"),
)
C6: tuple[str, ...] = tuple(c.key for c in APPLICANT_COLUMNS[:6])
C7: tuple[str, ...] = tuple(c.key for c in APPLICANT_COLUMNS)
LP_SUBTOTAL = Column("legal_person_subtotal", "法人或其他组织")
LP_COMPONENTS: tuple[str, ...] = C6[1:]


@dataclass(frozen=True)
class Group:
    """A label-only row of table 三 whose sub-rows carry the numbers."""

    key: str
    label: str
    fragments: tuple[str, ...]


T3_GROUPS: tuple[Group, ...] = (
    Group("outcome", "三、本年度办理结果", ("本年度办理结果",)),
    Group("withheld", "（三）不予公开", ("(三)不予公开",)),
    Group("unable", "（四）无法提供", ("(四)无法提供", "(四)无")),
    Group("not_processed", "（五）不予处理", ("(五)不予处理", "(五)不")),
    Group("other_processing", "（六）其他处理", ("(六)其他处理", "(六)其")),
)

_T3_HEAD: tuple[Row, ...] = (
    Row("new_received", "一、本年新收政府信息公开申请数量", ("本年新收",), "一"),
    Row("carried_over", "二、上年结转政府信息公开申请数量", ("上年结转",), "二"),
    Row("disclosed", "（一）予以公开", ("予以公开",), "(一)"),
    Row("partially_disclosed", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）", ("部分公开",), "(二)"),
    Row("withheld.state_secret", "1.属于国家秘密", ("国家秘密",), "1"),
    Row(
        "withheld.prohibited_by_law",
        "2.其他法律行政法规禁止公开",
        ("其他法律行政法规禁止公开", "法规禁止公开", "其他法律行政"),
        "2",
    ),
    Row("withheld.security_stability", "3.危及“三安全一稳定”", ("三安全一稳定",), "3"),
    Row("withheld.third_party_rights", "4.保护第三方合法权益", ("第三方合法权益",), "4"),
    Row("withheld.internal_affairs", "5.属于三类内部事务信息", ("三类内部事务",), "5"),
    Row("withheld.process_information", "6.属于四类过程性信息", ("四类过程性",), "6"),
    Row("withheld.enforcement_files", "7.属于行政执法案卷", ("行政执法案卷",), "7"),
    Row("withheld.administrative_query", "8.属于行政查询事项", ("行政查询事项",), "8"),
    Row("unable.not_held", "1.本机关不掌握相关政府信息", ("不掌握相关政府信息", "本机关不掌握"), "1"),
    Row("unable.needs_creation", "2.没有现成信息需要另行制作", ("需要另行制作", "没有现成信息"), "2"),
    Row("unable.unclear_after_correction", "3.补正后申请内容仍不明确", ("补正后申请内容仍不明确", "补正后"), "3"),
    Row("not_processed.petition_complaint", "1.信访举报投诉类申请", ("信访举报投诉",), "1"),
    Row("not_processed.duplicate", "2.重复申请", ("重复申请",), "2"),
    Row("not_processed.publication", "3.要求提供公开出版物", ("公开出版物",), "3"),
    Row("not_processed.mass_repetitive", "4.无正当理由大量反复申请", ("大量反复",), "4"),
    Row(
        "not_processed.confirm_or_reissue",
        "5.要求行政机关确认或重新出具已获取信息",
        ("确认或重新出具", "确认或重"),
        "5",
    ),
)
_T3_TAIL: tuple[Row, ...] = (
    Row("outcome_total", "（七）总计", ("(七)总计", "(七)"), "(七)"),
    Row("carried_forward", "四、结转下年度继续办理", ("结转下年度继续办理", "结转下年度"), "四"),
)
SINGLE_ROW = Row("other_processing.single_row", "（六）其他处理", ("(六)其他处理",), "(六)")
SUB_ROWS_2021: tuple[Row, ...] = (
    Row(
        "other_processing.no_correction_overdue",
        "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        ("逾期不补正",),
        "1",
    ),
    Row(
        "other_processing.fee_unpaid_overdue",
        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        ("收费通知", "缴纳费用"),
        "2",
    ),
    Row("other_processing.other", "3.其他", ("3.其他", "3、其他"), "3"),
)


def table3_rows(version: Version, other_processing: Literal["single_row", "subrows"] | None = None) -> tuple[Row, ...]:
    """Data rows of table 三 in template order.

    `other_processing` says how the report printed （六）: the 2019 form has one data row, the 2021 form
    three sub-rows, and some 2021 reports still print one row (deviation D09).
    """
    layout = other_processing or ("single_row" if version == "2019" else "subrows")
    middle = (SINGLE_ROW,) if layout == "single_row" else SUB_ROWS_2021
    return (*_T3_HEAD, *middle, *_T3_TAIL)


def outcome_rows(version: Version, other_processing: Literal["single_row", "subrows"] | None = None) -> tuple[str, ...]:
    """OUT2019 / OUT2021 of docs/spec.md §5: the rows that add up to （七）总计."""
    rows = table3_rows(version, other_processing)
    return tuple(
        r.key for r in rows if r.key not in ("new_received", "carried_over", "outcome_total", "carried_forward")
    )


T3_HEADER_WORDS: tuple[str, ...] = (
    "(本列数据的勾稽关系为:第一项加第二项之和,等于第三项加第四项之和)",
    "勾稽关系",
    "申请人情况",
    "自然人",
    "法人或其他组织",
    "商业企业",
    "科研机构",
    "社会公益组织",
    "法律服务机构",
    "总计",
)

# ---------------------------------------------------------------------------------------------
# Table 四

T4_GROUPS: tuple[tuple[str, str], ...] = (
    ("review", "行政复议"),
    ("litigation_direct", "未经复议直接起诉"),
    ("litigation_after_review", "复议后起诉"),
)
T4_LEAVES: tuple[tuple[str, str], ...] = (
    ("upheld", "结果维持"),
    ("corrected", "结果纠正"),
    ("other_outcome", "其他结果"),
    ("pending", "尚未审结"),
    ("total", "总计"),
)
T4_HEADER_WORDS: tuple[str, ...] = (
    "行政复议",
    "行政诉讼",
    "未经复议直接起诉",
    "复议后起诉",
    "结果维持",
    "结果纠正",
    "其他结果",
    "尚未审结",
    "总计",
)

# ---------------------------------------------------------------------------------------------
# Flat cell specs


@dataclass(frozen=True)
class CellSpec:
    """One cell of a template version: its flat key (docs/cell-keys.md) and where it sits."""

    key: str
    table: Literal["active_disclosure", "applications", "review_litigation"]
    path: tuple[str, ...]  # JSON path inside the table object of the canonical report
    column: Column
    row_label: str
    col_label: str


@dataclass(frozen=True)
class Layout:
    """The shape a particular report's tables take: version plus the optional variants."""

    version: Version
    other_processing: Literal["single_row", "subrows"] = "subrows"
    lp_subtotal: bool = False
    subtotal_groups: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def default(cls, version: Version) -> Layout:
        return cls(version, "single_row" if version == "2019" else "subrows")


def table2_specs(version: Version) -> list[CellSpec]:
    specs = []
    for block in TABLE2[version]:
        for row in block.rows:
            for col in block.columns:
                specs.append(
                    CellSpec(
                        f"active_disclosure.{block.key}.{row.key}.{col.key}",
                        "active_disclosure",
                        (block.key, "rows", row.key, "cells", col.key),
                        col,
                        row.label,
                        col.label,
                    )
                )
    return specs


def table3_columns(layout: Layout) -> tuple[Column, ...]:
    return (*APPLICANT_COLUMNS[:6], LP_SUBTOTAL, APPLICANT_COLUMNS[6]) if layout.lp_subtotal else APPLICANT_COLUMNS


def table3_specs(layout: Layout) -> list[CellSpec]:
    rows: list[Row] = list(table3_rows(layout.version, "subrows" if layout.version == "2021" else "single_row"))
    if layout.version == "2021" and layout.other_processing == "single_row":
        # D09: the three 2021 sub-rows stay in the flat form (status missing) and the single row joins them.
        rows.insert(rows.index(SUB_ROWS_2021[-1]) + 1, SINGLE_ROW)
    groups = {g.key: g for g in T3_GROUPS}
    for g in sorted(layout.subtotal_groups):
        first = next(i for i, r in enumerate(rows) if r.key.startswith(g + "."))
        rows.insert(first, Row(f"{g}.subtotal", groups[g].label, groups[g].fragments))
    specs = []
    for row in rows:
        for col in table3_columns(layout):
            specs.append(
                CellSpec(
                    f"applications.{row.key}.{col.key}",
                    "applications",
                    ("rows", *row.key.split("."), "cells", col.key),
                    col,
                    row.label,
                    col.label,
                )
            )
    return specs


def table4_specs() -> list[CellSpec]:
    return [
        CellSpec(
            f"review_litigation.{g}.{leaf}",
            "review_litigation",
            (g, leaf),
            Column(leaf, leaf_label),
            glabel,
            leaf_label,
        )
        for g, glabel in T4_GROUPS
        for leaf, leaf_label in T4_LEAVES
    ]


@functools.cache
def cell_specs(layout: Layout) -> tuple[CellSpec, ...]:
    """Every cell of a report with this layout, in template order (tables 二, 三, 四); cached per layout."""
    return (*table2_specs(layout.version), *table3_specs(layout), *table4_specs())


# ---------------------------------------------------------------------------------------------
# Template-version markers (docs/spec.md §0), matched on the compact view.

MARKERS: dict[Version, tuple[str, ...]] = {
    "2019": (
        "本年新制作数量",
        "本年新公开数量",
        "对外公开总数量",
        "上一年项目数量",
        "本年增/减",
        "其他对外管理服务事项",
        "第二十条第(九)项",
        "政府集中采购",
        "采购项目数量",
        "采购总金额",
    ),
    "2021": (
        "本年制发件数",
        "本年废止件数",
        "现行有效件数",
        "本年处理决定数量",
        "本年收费金额",
        "行政规范性文件",
        "逾期不补正",
        "逾期未按收费通知要求缴纳费用",
        "3.其他",
    ),
}
# Labels both versions share: a document with none of them is not a template report at all.
COMMON_MARKERS: tuple[str, ...] = (
    "第二十条第(一)项",
    "本年新收政府信息公开申请数量",
    "上年结转政府信息公开申请数量",
    "本年度办理结果",
    "结转下年度继续办理",
    "申请人情况",
    "不予公开",
    "无法提供",
    "不予处理",
)

SECTION_KEYS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("一", "general_situation", ("总体情况", "概述")),
    ("二", "active_disclosure", ("主动公开",)),
    ("三", "applications", ("收到和处理", "依申请")),
    ("四", "review_litigation", ("行政复议", "行政诉讼", "复议、诉讼", "行政法复议")),
    ("五", "problems_and_improvements", ("问题", "改进")),
    ("六", "other_matters", ("需要报告", "其他事项", "其它事项")),
)
