"""The LLM path: an OpenAI-compatible client with schema-constrained answers, its configuration and
provider table, the token ledger, a rate limit shared through Redis, and fusion with the deterministic
reading. It knows nothing of the store or the service."""
