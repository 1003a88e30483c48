"""The pure model: the template as data, the canonical report, the identities as a rule table, the
localiser and the LLM answer schemas. It imports nothing of the rest of gouji."""
