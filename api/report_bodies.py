"""Report versions as response bodies, cached per API process.

A stored report version never changes (a re-run or a review adds a new version), so its serialised JSON
can be kept once read: a read then costs one indexed lookup of the newest version number and no transfer
of the ~100 KB body from the database. Bodies are kept gzip-compressed only (a tenth of the size, so ten
times as many fit in the budget, GOUJI_REPORT_CACHE_MB, default 64 per process); most clients accept gzip,
and the others get it inflated, well under a millisecond. The version id doubles as an ETag.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

from sqlalchemy import Text, cast, select

from gouji.api.lru import ByteLRU
from gouji.worker.store.db import session
from gouji.worker.store.models import ReportVersion


@dataclass(frozen=True)
class Body:
    version_id: int
    gzipped: bytes

    @property
    def json(self) -> bytes:
        return gzip.decompress(self.gzipped)

    @property
    def etag(self) -> str:
        return f'"rv{self.version_id}"'


class ReportBodies:
    """Compressed report bodies by version id, bounded in bytes; `get` returns None when the document has
    no such version."""

    def __init__(self, db_url: str, budget_bytes: int) -> None:
        self._db_url = db_url
        self._cache = ByteLRU(budget_bytes)

    def get(self, doc_id: int, version: int | None) -> Body | None:
        with session(self._db_url) as s:
            q = select(ReportVersion.id).where(ReportVersion.document_id == doc_id)
            q = q.where(ReportVersion.version_no == version) if version else q.order_by(ReportVersion.version_no.desc())
            version_id = s.scalar(q.limit(1))
            if version_id is None:
                return None
            if (hit := self._cache.get(version_id)) is not None:
                return Body(version_id, hit)
            text = s.scalar(select(cast(ReportVersion.report, Text)).where(ReportVersion.id == version_id))
        if text is None:  # deleted between the two reads
            return None
        body = Body(version_id, gzip.compress(text.encode("utf-8"), compresslevel=6))
        self._cache.put(version_id, body.gzipped)
        return body
