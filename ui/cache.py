"""One versioned cache for every loader: keyed on its arguments and on what it reads.

A loader decorated with `versioned` is cached by Streamlit (`st.cache_data`, or
`st.cache_resource` for objects shared as they are) under its arguments plus a token of
what it reads: the store's layer revisions (any import or edit changes them) and, if
asked, the targets file's modification time. Reruns then cost a dictionary look-up.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import streamlit as st

import store
from layers import targets
from store.base import generation

__all__ = ["versioned"]

P = ParamSpec("P")
R = TypeVar("R")


#: How long a read of the layer revisions stands for writes by other processes (seconds).
#: Writes by this process (the app's own edits and imports) are seen at once.
FRESH_S = 0.5
_seen: dict[str, tuple[float, int, str]] = {}  # store -> (when read, generation, revisions)


def revisions() -> str:
    """Return the store's layer revisions, read at most every `FRESH_S` unless this process wrote.

    A page calls a dozen loaders per rerun, each asking for the token: one query per rerun
    instead of one per loader.
    """
    handle = store.open_store()
    now, written = time.monotonic(), generation()
    seen = _seen.get(handle.location)
    if seen is not None and seen[1] == written and now - seen[0] < FRESH_S:
        return seen[2]
    value = repr(sorted(handle.revisions().items()))
    _seen[handle.location] = (now, written, value)
    return value


def token(*, with_targets: bool) -> str:
    """Return the version of what the loaders read: which store, its revisions, the targets."""
    found = store.open_store().location + revisions()
    return found + (f"|{targets.TARGETS_PATH.stat().st_mtime_ns}" if with_targets else "")


def versioned(
    *, max_entries: int, with_targets: bool = False, shared: bool = False
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Cache a loader on its arguments and the version of the data it reads.

    Parameters
    ----------
    max_entries
        How many results to keep (oldest dropped first).
    with_targets
        Whether the loader also reads the targets file.
    shared
        Keep one object for every session (`st.cache_resource`: never mutate it) instead
        of a copy per caller (`st.cache_data`).
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        def call(*args: object, version_token: str, **kwargs: object) -> R:
            del version_token  # part of the cache key only
            return fn(*args, **kwargs)  # type: ignore[arg-type]

        functools.update_wrapper(call, fn)  # Streamlit keys the cache on fn's name and source
        cache = st.cache_resource if shared else st.cache_data
        cached = cache(max_entries=max_entries, show_spinner=False)(call)

        @functools.wraps(fn)
        def load(*args: P.args, **kwargs: P.kwargs) -> R:
            return cached(*args, version_token=token(with_targets=with_targets), **kwargs)

        return load

    return decorate
