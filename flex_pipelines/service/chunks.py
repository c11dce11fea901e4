"""Chunks of sites: the unit a fleet's schedules are computed, retried and re-triggered in.

A chunk is a fixed range of site asset ids, ``k·span … (k+1)·span − 1``, named
``sites_<first>_<last>``. The key says which sites it holds, so it is stable: a retried step or a
re-triggered chunk redoes exactly the sites whose ids fall in its range, whatever sites were
added or removed elsewhere, and the sensor that re-optimises a site knows its chunk without
listing the fleet. Sites with consecutive ids (a fleet built together) share chunks; how many
sites a chunk holds depends on how many asset ids each site uses (two for a site with one
battery, so the default span of 1,000 ids holds up to 500 such sites).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from flex_pipelines.errors import FlexPipelinesError

__all__ = ["Chunk", "chunk_of", "chunks_of", "parse_chunk_key"]

_KEY = re.compile(r"sites_(\d+)_(\d+)")


@dataclass(frozen=True, order=True)
class Chunk:
    """A range of site asset ids, both ends included."""

    first: int
    last: int

    @property
    def key(self) -> str:
        """``sites_<first>_<last>``: a Dagster mapping key and a run tag."""
        return f"sites_{self.first}_{self.last}"

    def __contains__(self, site_id: object) -> bool:
        return isinstance(site_id, int) and self.first <= site_id <= self.last


def chunk_of(site_id: int, span: int) -> Chunk:
    """The chunk of ``span`` ids that holds ``site_id``."""
    if span < 1:
        raise FlexPipelinesError(f"chunk span must be at least 1, got {span}")
    k = site_id // span
    return Chunk(k * span, (k + 1) * span - 1)


def chunks_of(site_ids: Iterable[int], span: int) -> dict[Chunk, list[int]]:
    """The sites grouped by chunk, chunks in id order, sites sorted within each."""
    out: dict[Chunk, list[int]] = {}
    for sid in sorted(set(site_ids)):
        out.setdefault(chunk_of(sid, span), []).append(sid)
    return dict(sorted(out.items()))


def parse_chunk_key(key: str) -> Chunk:
    """The chunk a key names; a malformed key raises an error naming it."""
    m = _KEY.fullmatch(key.strip())
    if not m or int(m[1]) > int(m[2]):
        raise FlexPipelinesError(
            f"chunk key {key!r} is not of the form sites_<first id>_<last id> with first ≤ last"
        )
    return Chunk(int(m[1]), int(m[2]))
