"""Storage: the database is the system of record (documents, runs, report versions, cells, checks,
review tasks and events, failures). SQLite by default, PostgreSQL with GOUJI_DATABASE_URL."""
