"""HTTP API and review UI (FastAPI).

Empty until the service issue: the layout keeps one folder per concern, and the web layer will call the
same `worker` stages the CLI uses, so nothing here may hold extraction or validation logic.
"""
