"""Run a function in a forked child and read back what it reports (tests of after-fork state)."""

from __future__ import annotations

import json
import os
from typing import Any, Callable


def in_child(report: Callable[[], Any]) -> Any:
    """``report()`` run in a forked child; its JSON result, read back by the parent.

    The child leaves with ``os._exit`` (none of the parent's exit hooks run twice); an exception
    in it comes back as ``{"child raised": repr}``, so the parent's assertion shows it.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            try:
                result = report()
            except BaseException as exc:  # reported to the parent, which asserts on it
                result = {"child raised": repr(exc)}
            os.write(write, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    os.waitpid(pid, 0)
    return json.loads(text)
