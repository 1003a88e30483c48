"""Regexes for template labels on the compact view, built from the template's own label text.

A row label matches by its distinctive fragment; the ordinal and the rest of the official label are
optional around it, so "2.其他法律行政止公开" (a typo) and a label cut by a page break still match, and
a digit glued before the ordinal is left to the cell before it.
"""

from __future__ import annotations

import re

from gouji.schemas.template import Row
from gouji.worker.read.document import match_key


def word_pattern(word: str) -> str:
    return re.escape(match_key(word))


def row_pattern(row: Row) -> str:
    label = match_key(row.label)
    alts = []
    for frag in row.fragments:
        f = match_key(frag)
        i = label.find(f)
        if i < 0:
            alts.append(re.escape(f))
            continue
        prefix, tail = label[:i], label[i + len(f) :]
        pre = ""
        if prefix:
            ordinal = match_key(row.ordinal) if row.ordinal else ""
            if ordinal and prefix.startswith(ordinal):
                rest = prefix[len(ordinal) :].lstrip(".、")
                sep = "" if ordinal.startswith("(") else "[.、]"
                pre = (
                    f"(?:{re.escape(ordinal)}{sep}(?:{re.escape(rest)})?)?"
                    if rest
                    else f"(?:{re.escape(ordinal)}{sep})?"
                )
            else:
                pre = f"(?:{re.escape(prefix)})?"
        post = f"(?:{re.escape(tail)})?" if tail else ""
        alts.append(pre + re.escape(f) + post)
    return "|".join(alts)
