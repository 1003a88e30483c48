"""Versioned prompt files for the LLM extraction path (Jinja2 templates, one per table and version).

Prompts live here as files, never as string literals in code, so that every LLM result can record the
prompt version it was made with. The deterministic extractor needs none.
"""
