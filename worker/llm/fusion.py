"""Fusing the deterministic and the LLM reading, cell by cell, so that no wrong number is accepted silently.

* Both readings agree, no identity over the cell fails and the value is in the source → `high` confidence.
* They disagree and exactly one reading satisfies the identities that cover the cell → that reading wins,
  `medium` confidence, flagged `readings_disagree` (the losing value is named in `reason`). An LLM value
  wins only if it stands alone in the source (not found, or only inside a fused digit run, is not enough)
  and the rules did not find the cell ambiguous (where several values fit, the LLM's pick is no evidence).
* Otherwise → the deterministic value (or its refusal) stays, `low` confidence, `needs_review`.

"Satisfies the identities" is judged per reading over the whole table, so a value is never chosen
because the other cells happened to be read the same way it was.
"""

from __future__ import annotations

from gouji.schemas.cells import NOT_GROUNDED, NOT_PRINTED, Cell
from gouji.schemas.rules import evaluate, failures
from gouji.schemas.template import Layout
from gouji.worker.extract.common import AMBIGUOUS
from gouji.worker.llm.reading import IN_FUSED_RUN

DISAGREE = "readings_disagree"
NEEDS_REVIEW = "needs_review"
# Any of these sends the cell (and its report) to a person: disagreement is never settled silently,
# whichever reading fusion shows first.
REVIEW_FLAGS = frozenset({NEEDS_REVIEW, DISAGREE, NOT_GROUNDED})


def routes_to_review(cell: Cell) -> bool:
    return bool(REVIEW_FLAGS & set(cell.flags))


def _same(a: Cell, b: Cell) -> bool:
    return a.status == b.status and a.value == b.value


def _covered_and_passing(cells: dict[str, Cell], layout: Layout) -> tuple[set[str], set[str]]:
    """(keys in at least one evaluated equality identity, keys in a failing one) for a reading."""
    covered: set[str] = set()
    failing: set[str] = set()
    results = evaluate(cells, layout)
    for r in results:
        if r.lenient or r.status == "skipped" or r.severity != "error" or r.lhs is None:
            continue
        covered.update(r.operands)
    for r in failures(results):
        if r.severity == "error":
            failing.update(r.operands)
    return covered, failing


def fuse(
    det: dict[str, Cell], llm: dict[str, Cell], layout: Layout, ungrounded: frozenset[str] | set[str] = frozenset()
) -> dict[str, Cell]:
    """Fused cells (new objects) for every key of `det`; `llm` holds the LLM's cells of the tables it
    answered; `ungrounded` names the deterministic cells whose value is not at their source span."""
    if not llm:
        return {
            k: c.model_copy(update={"support": ["deterministic"] if c.status == "reported" else []})
            for k, c in det.items()
        }
    llm_view = {k: llm.get(k, c) for k, c in det.items()}
    det_cov, det_fail = _covered_and_passing(det, layout)
    llm_cov, llm_fail = _covered_and_passing(llm_view, layout)
    out: dict[str, Cell] = {}
    for key, d in det.items():
        l_cell = llm.get(key)
        if l_cell is None:
            confidence = "medium" if d.status == "reported" and key not in det_fail else "low"
            out[key] = d.model_copy(
                update={
                    "support": ["deterministic"] if d.status == "reported" else [],
                    "confidence": None if NOT_PRINTED in d.flags else confidence,
                }
            )
            continue
        grounded = l_cell.status != "reported" or (
            NOT_GROUNDED not in l_cell.flags and IN_FUSED_RUN not in l_cell.flags
        )
        if _same(d, l_cell):
            high = key not in det_fail and key not in ungrounded and NOT_GROUNDED not in d.flags
            out[key] = d.model_copy(
                update={"support": ["deterministic", "llm"], "confidence": "high" if high else "medium"}
            )
            continue
        d_ok = d.status == "reported" and key in det_cov and key not in det_fail
        # An LLM value for a cell the rules found ambiguous is one more guess among equals: never accepted.
        l_ok = (
            l_cell.status == "reported"
            and grounded
            and key in llm_cov
            and key not in llm_fail
            and AMBIGUOUS not in d.flags
        )
        if d_ok and not l_ok:
            out[key] = d.model_copy(
                update={
                    "support": ["deterministic"],
                    "confidence": "medium",
                    "flags": [*d.flags, DISAGREE],
                    "reason": f"LLM read {_show(l_cell)}; the deterministic value satisfies the identities, the LLM's does not",
                }
            )
        elif l_ok and not d_ok:
            out[key] = l_cell.model_copy(
                update={
                    "support": ["llm"],
                    "confidence": "medium",
                    "flags": [*l_cell.flags, DISAGREE],
                    "reason": f"deterministic reading {_show(d)}; the LLM value satisfies the identities and stands alone in the source",
                }
            )
        else:
            out[key] = d.model_copy(
                update={
                    "support": ["deterministic"] if d.status == "reported" else [],
                    "confidence": "low",
                    "flags": [*d.flags, DISAGREE, NEEDS_REVIEW],
                    "reason": f"{d.reason + '; ' if d.reason else ''}LLM read {_show(l_cell)}; neither reading is confirmed",
                }
            )
    return out


def _show(c: Cell) -> str:
    return f"{c.value} ({c.status})" if c.status == "reported" else c.status
