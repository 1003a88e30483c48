"""A thread-safe least-recently-used cache of byte strings, bounded by their total size.

The API keeps two kinds of immutable bytes per process: compressed report bodies and rendered page
pictures. Both are worth keeping only within a memory budget, and both are read from several threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class ByteLRU:
    def __init__(self, budget_bytes: int) -> None:
        self._budget = budget_bytes
        self._size = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, data: bytes) -> None:
        with self._lock:
            if key not in self._items:
                self._items[key] = data
                self._size += len(data)
            while self._size > self._budget and self._items:
                self._size -= len(self._items.popitem(last=False)[1])
