"""Process state in one place: one fork hook, one reset.

A module that keeps state across predictions (caches, random generators, stores, export
threads) registers how to clean it here instead of installing a fork hook of its own:

- ``fork``: run in a forked child (gunicorn pre-fork workers): the child must not count its
  parent's rows, repeat its parent's random ids or believe its parent's export thread runs;
- ``reset``: run by :func:`reset`, which ``modeltel.testing.capture()`` calls so that every
  test starts from a clean process state.

Hooks run in registration order; one that fails does not stop the others.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Callable

__all__ = ["register", "reset", "registered"]

_log = logging.getLogger("modeltel")
_lock = threading.Lock()
_hooks: dict[str, tuple[Callable[[], None] | None, Callable[[], None] | None]] = {}


def register(
    name: str,
    *,
    fork: Callable[[], None] | None = None,
    reset: Callable[[], None] | None = None,
) -> None:
    """Register the state ``name``: ``fork`` runs in a forked child, ``reset`` on :func:`reset`.

    Registering a name again replaces its hooks (a reloaded module does not run twice).
    """
    with _lock:
        _hooks[name] = (fork, reset)


def registered() -> tuple[str, ...]:
    """The names registered, in order."""
    return tuple(_hooks)


def _run(index: int) -> None:
    for name, hooks in list(_hooks.items()):
        hook = hooks[index]
        if hook is None:
            continue
        try:
            hook()
        except Exception as exc:  # noqa: BLE001 - one broken hook must not stop the others
            _log.warning("modeltel: cleaning the state %r failed: %r", name, exc)


def reset() -> None:
    """Clear every registered state (caches, counters, once-only warnings)."""
    _run(1)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a lock held by another thread at fork time stays held
    _run(0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
