"""Report versions as response bodies, cached per API process.

A stored report version never changes (a re-run or a review adds a new version), so its serialised JSON
can be kept once read: a read then costs one indexed lookup of the newest version number and no transfer
of the ~100 KB body from the database. The body is also kept gzip-compressed, because most clients accept
it and a compressed report is a tenth of the size. The version id doubles as an ETag.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Text, cast, select

from worker.store.db import session
from worker.store.models import ReportVersion


@dataclass(frozen=True)
class Body:
    version_id: int
    json: bytes
    gzipped: bytes

    @property
    def etag(self) -> str:
        return f'"rv{self.version_id}"'


class ReportBodies:
    """An LRU of report bodies by version id; `get` returns None when the document has no such version."""

    def __init__(self, db_url: str, capacity: int = 512) -> None:
        self._db_url = db_url
        self._capacity = capacity
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
        data = text.encode("utf-8")
        body = Body(version_id, data, gzip.compress(data, compresslevel=6))
        with self._lock:
            self._items[version_id] = body
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return body
