"""The generator: consistent synthetic reports, rendered the ways real ones arrive, each with its gold."""
