"""The one exception a reader raises for input it cannot turn into a NormalisedDoc.

Callers (CLI, API, batch runs) need to tell "this file is bad or unsupported" apart from a bug in our
code, and the message must name the file so a batch log is actionable without a traceback.
"""

from __future__ import annotations


class InputError(Exception):
    """The input at `path` cannot be read; `problem` says why in words a user can act on."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        # Exceptions with a custom __init__ do not survive pickling (multiprocessing) without this.
        return (type(self), (self.path, self.problem))
