"""The service's closed sets of names: token roles, export formats, Celery queues and document states.

They live apart from the code that uses them so the command line can offer them as choices without
loading the database or broker libraries (`gouji --help` answers at once).
"""

from __future__ import annotations

from typing import Literal

ROLES = ("viewer", "uploader", "reviewer", "admin")
Format = Literal["csv", "wide.csv", "xlsx", "parquet", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "wide.csv", "xlsx", "parquet", "jsonl")
QUEUES = ("cpu", "llm", "db")
FINAL_STATES = ("accepted", "review", "refused", "failed")
