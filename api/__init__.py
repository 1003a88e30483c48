"""The faces: the FastAPI app (JSON API and review UI) and the `gouji` command line. They build the
settings, call the service, and choose how its errors are shown (HTTP statuses in api/errors.py)."""
