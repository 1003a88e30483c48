"""The check stage: every identity, the narrative checks and grounding, run once on the kept reading
(and again on review drafts and hand-edited reports)."""
