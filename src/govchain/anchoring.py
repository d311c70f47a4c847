"""Anchoring of pending documents (issue 5 replaces the synchronous path with a group-commit worker).

The web and API layers use only ``Anchoring.wait``: after committing documents stored as pending,
they wait up to a timeout for them to be anchored and then read them again.
"""

from __future__ import annotations

from collections.abc import Sequence


class Anchoring:
    """Today issuance anchors before it returns, so every committed document is anchored."""

    def wait(self, document_ids: Sequence[str], timeout: float) -> bool:
        """True when all `document_ids` are anchored, False when `timeout` passed first."""
        del document_ids, timeout
        return True
