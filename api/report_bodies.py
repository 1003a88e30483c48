"""Report versions as response bodies, cached per API process.

A stored report version never changes (a re-run or a review adds a new version), so its serialised JSON
can be kept once read: a read then costs one indexed lookup of the newest version number and no transfer
of the ~100 KB body from the database. Bodies are kept gzip-compressed only (a tenth of the size, so ten
times as many fit in the budget, GOUJI_REPORT_CACHE_MB, default 64 per process); most clients accept gzip,
and the others get it inflated, well under a millisecond. The version id doubles as an ETag.
"""

from __future__ import annotations

import gzip
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Text, cast, select

from worker.store.db import session
from worker.store.models import ReportVersion


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
    """An LRU of compressed report bodies by version id, bounded in bytes; `get` returns None when the document has no such version."""

    def __init__(
        self, db_url: str, budget_bytes: int = int(os.environ.get("GOUJI_REPORT_CACHE_MB", "64")) << 20
    ) -> None:
        self._db_url = db_url
        self._budget = budget_bytes
        self._size = 0
        self._items: OrderedDict[int, Body] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, doc_id: int, version: int | None) -> Body | None:
        with session(self._db_url) as s:
            q = select(ReportVersion.id).where(ReportVersion.document_id == doc_id)
            q = q.where(ReportVersion.version_no == version) if version else q.order_by(ReportVersion.version_no.desc())
            version_id = s.scalar(q.limit(1))
            if version_id is None:
                return None
            with self._lock:
                if (hit := self._items.get(version_id)) is not None:
                    self._items.move_to_end(version_id)
                    return hit
            text = s.scalar(select(cast(ReportVersion.report, Text)).where(ReportVersion.id == version_id))
        if text is None:  # deleted between the two reads
            return None
        body = Body(version_id, gzip.compress(text.encode("utf-8"), compresslevel=6))
        with self._lock:
            if version_id not in self._items:
                self._items[version_id] = body
                self._size += len(body.gzipped)
            while self._size > self._budget and self._items:
                self._size -= len(self._items.popitem(last=False)[1].gzipped)
        return body
