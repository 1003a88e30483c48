"""The deterministic reading: template version, sections and table regions, tables 二/三/四, metadata and
the prose's numeric claims. It returns a reading (worker/extract/report.py: `extract`), never checks it."""
