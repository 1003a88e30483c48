"""Reports of one agency across years: printed names normalised, aliases merged, cross-year checks kept.

Agencies print their names differently from year to year ("洪泽区人民政府" one year, "淮安市洪泽区人民政府"
the next). A name is normalised (NFKC, no spaces or punctuation) and looked up among aliases; an unknown
name becomes its own agency until someone merges it (`gouji agency alias`). Whenever a report version is
stored, or an alias joins two agencies, the X.* checks against the neighbouring years are (re)computed,
so a year that arrives later is still checked against the one already stored.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gouji.schemas.report import Report
from gouji.schemas.rules import evaluate_cross_year, failures
from gouji.worker.store.models import Agency, AgencyAlias, CrossYearCheck, Document, ReportVersion


def normalise_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name)
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch).startswith("P")))


def agency_for(s: Session, printed: str) -> Agency:
    key = normalise_name(printed)
    alias = s.get(AgencyAlias, key)
    if alias is None:
        try:
            with s.begin_nested():  # two workers may meet the same new agency at once; one wins the key
                agency = Agency(name=key)
                s.add(agency)
                s.flush()
                s.add(AgencyAlias(alias=key, agency_id=agency.id))
            return agency
        except IntegrityError:
            alias = s.get(AgencyAlias, key)
            assert alias is not None
    found = s.get(Agency, alias.agency_id)
    assert found is not None
    return found


def link(s: Session, doc: Document) -> list[CrossYearCheck]:
    """Attach the document to its agency and (re)compute the checks with its neighbouring years."""
    if not doc.agency or doc.report_year is None or not doc.versions:
        return []
    doc.agency_id = agency_for(s, doc.agency).id
    s.flush()
    return recheck(s, doc.agency_id, {doc.report_year - 1, doc.report_year})


def merge(s: Session, alias: str, into: str) -> Agency:
    """Make printed name `alias` mean the same agency as `into`; relink and recheck the affected years."""
    target = agency_for(s, into)
    source = agency_for(s, alias)
    if source.id == target.id:
        return target
    for a in s.scalars(select(AgencyAlias).where(AgencyAlias.agency_id == source.id)):
        a.agency_id = target.id
    years: set[int] = set()
    for d in s.scalars(select(Document).where(Document.agency_id == source.id)):
        d.agency_id = target.id
        if d.report_year is not None:
            years |= {d.report_year - 1, d.report_year}
    s.execute(delete(CrossYearCheck).where(CrossYearCheck.agency_id == source.id))
    s.delete(source)
    s.flush()
    recheck(s, target.id, years)
    return target


def _newest(s: Session, agency_id: int, year: int) -> int | None:
    """Id of the newest version of the agency's report for `year` (ids only: reports are large)."""
    q = (
        select(ReportVersion.id)
        .join(Document)
        .where(Document.agency_id == agency_id, Document.report_year == year)
        .order_by(ReportVersion.created_at.desc(), ReportVersion.id.desc())
        .limit(1)
    )
    return s.scalar(q)


def recheck(s: Session, agency_id: int, prev_years: set[int]) -> list[CrossYearCheck]:
    """For each Y−1 in `prev_years`: the X.* checks between the newest versions of years Y−1 and Y."""
    out = []
    for prev_year in sorted(prev_years):
        prev_id, cur_id = _newest(s, agency_id, prev_year), _newest(s, agency_id, prev_year + 1)
        if prev_id is None or cur_id is None:
            continue
        existing = s.scalar(
            select(CrossYearCheck).where(
                CrossYearCheck.prev_version_id == prev_id, CrossYearCheck.cur_version_id == cur_id
            )
        )
        if existing is not None:
            out.append(existing)
            continue
        prev, cur = s.get(ReportVersion, prev_id), s.get(ReportVersion, cur_id)
        assert prev is not None and cur is not None
        p, c = Report.model_validate(prev.report), Report.model_validate(cur.report)
        pl, cl = p.layout_obj(), c.layout_obj()
        if pl is None or cl is None:
            continue
        results = evaluate_cross_year(p.flat_cells(), pl, c.flat_cells(), cl)
        row = CrossYearCheck(
            agency_id=agency_id,
            year_prev=prev_year,
            year=prev_year + 1,
            prev_version_id=prev.id,
            cur_version_id=cur.id,
            checks=[r.model_dump(mode="json") for r in results],
            failed=len(failures(results)),
        )
        s.add(row)
        out.append(row)
    s.flush()
    return out
