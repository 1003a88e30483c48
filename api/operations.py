"""Operating the service over HTTP: health (open, for load balancers), exports, status lines and Prometheus
metrics (which need a token that may read, like every other read)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, SummaryMetricFamily
from sqlalchemy import func, select

from gouji.api.deps import Db, Reader
from gouji.api.errors import documented
from gouji.worker.service.export import MEDIA_TYPES, export_bytes
from gouji.worker.service.status import status_lines
from gouji.worker.service.tasks import queue_depths
from gouji.worker.service.vocabulary import FINAL_STATES, FORMATS
from gouji.worker.settings import Settings
from gouji.worker.store.db import session
from gouji.worker.store.models import Document, ExtractionRun, ReviewTask

router = APIRouter(responses=documented(401, 403, 404, 422))


@router.get("/healthz")
def healthz(s: Db) -> dict[str, str]:
    s.execute(select(1))
    return {"status": "ok"}


@router.get("/export.{fmt}", responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}})
def export(fmt: str, s: Db, who: Reader, batch: str | None = None) -> Response:
    chosen = next((f for f in FORMATS if f == fmt), None)
    if chosen is None:
        raise HTTPException(404, f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    data = export_bytes(s, chosen, batch)
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": attachment(f"gouji-{batch}" if batch else "gouji", fmt)},
    )


def attachment(stem: str, suffix: str) -> str:
    """A Content-Disposition header for any name (RFC 6266 / RFC 5987): an ASCII fallback with every other
    character replaced, and the exact UTF-8 name percent-encoded, so a Chinese batch name or a quote, CR or
    LF in it can neither break the header nor the response."""
    name = f"{stem}.{suffix}"
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get("/status")
def status(s: Db, who: Reader, batch: str | None = None) -> dict[str, list[str]]:
    return {"lines": status_lines(s, batch)}


@router.get("/metrics")
def metrics(request: Request, who: Reader) -> Response:
    registry = CollectorRegistry()
    registry.register(_Collector(request.app.state.settings))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class _Collector:
    """Metrics read from the database at scrape time: right across any number of workers and machines."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily | SummaryMetricFamily]:
        with session(self.settings.database_url) as s:
            docs = GaugeMetricFamily("gouji_documents", "Documents by state", labels=["state"])
            counts = dict(s.execute(select(Document.state, func.count()).group_by(Document.state)).all())
            for state in ("received", *FINAL_STATES):
                docs.add_metric([state], counts.get(state, 0))
            yield docs
            backlog = s.scalar(select(func.count()).select_from(ReviewTask).where(ReviewTask.state == "open")) or 0
            yield GaugeMetricFamily("gouji_review_backlog", "Open review tasks", value=backlog)
            tokens = GaugeMetricFamily("gouji_llm_tokens", "LLM tokens recorded in runs", labels=["direction"])
            cost = 0.0
            t_in = t_out = 0
            for usage in s.scalars(select(ExtractionRun.usage)):
                if not usage:
                    continue
                t_in += int(usage.get("input_tokens", 0))
                t_out += int(usage.get("output_tokens", 0))
                cost += float(usage.get("cost_usd") or 0)
            tokens.add_metric(["input"], t_in)
            tokens.add_metric(["output"], t_out)
            yield tokens
            yield GaugeMetricFamily("gouji_llm_cost_usd", "Estimated LLM cost of recorded runs", value=cost)
            stages = SummaryMetricFamily(
                "gouji_stage_seconds", "Time per pipeline stage (recorded runs)", labels=["stage"]
            )
            totals: dict[str, list[float]] = {}
            for timings in s.scalars(select(ExtractionRun.timings)):
                for stage, seconds in (timings or {}).items():
                    totals.setdefault(stage, []).append(float(seconds))
            for stage, xs in sorted(totals.items()):
                stages.add_metric([stage], count_value=len(xs), sum_value=sum(xs))
            yield stages
        depth = queue_depths(self.settings)
        if depth:
            queues = GaugeMetricFamily("gouji_queue_depth", "Messages waiting per Celery queue", labels=["queue"])
            for q, n in depth.items():
                queues.add_metric([q], n)
            yield queues
