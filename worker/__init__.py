"""Everything behind the faces, one room per role.

Pure stages (no database, no service, no settings): `read/` turns any input into the normalised
document, `extract/` reads it deterministically, `llm/` reads it with a model and fuses the two readings,
`check/` runs the identities and grounding, and `stages.py` runs extract → (LLM, fuse) → check once, in
that order. `synth/` generates consistent reports for tests and benchmarks. Around them: `store/` (the
database), `service/` (pipeline, routing, Celery tasks, review, exports), `settings.py` (every setting,
read once per entry point) and `errors.py` (the one error tree). The rules are enforced by import-linter
(pyproject.toml, tests/test_architecture.py).
"""
