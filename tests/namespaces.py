"""Namespaces made by this test session, so that it deletes what it made and nothing else.

Another session (a developer's, or CI) may share the same local stack: a sweep by the ``t-``
prefix alone would delete its live topics.
"""

from __future__ import annotations

import uuid

MADE: set[str] = set()


def new_namespace(label: str = "") -> str:
    """A fresh ``t-`` namespace, remembered for the session's clean-up."""
    namespace = f"t-{label}-{uuid.uuid4().hex[:10]}" if label else f"t-{uuid.uuid4().hex[:10]}"
    MADE.add(namespace)
    return namespace


def made_here(name: str) -> bool:
    """Whether a topic or a server database belongs to a namespace this session made (or one
    derived from it by a suffix, such as a replay's ``{namespace}-r``)."""
    return any(
        name.startswith(namespace) or name.startswith(namespace.replace("-", "_"))
        for namespace in MADE
    )
