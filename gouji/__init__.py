"""gouji (勾稽): government information-disclosure annual reports → validated, traceable data.

The code lives in the repository's top-level folders `schemas/`, `prompts/`, `worker/` and `api/`;
this package only gathers them under one import name (`gouji.schemas`, `gouji.worker`, …) through the
links beside this file, so that installing gouji never shadows another package called `api` or
`worker` in a user's environment.
"""
