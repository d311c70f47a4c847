"""Every custom error and every event of both contracts is asserted by some contract test.

A new error or event without a test fails here, so the exact-error tests cannot silently fall
behind the interfaces.
"""

from __future__ import annotations

from pathlib import Path

from govchain.adapters import artifacts

# Declared by OpenZeppelin's IAccessControl; our contracts never change a role's admin role.
NEVER_EMITTED = {"RoleAdminChanged"}


def test_every_error_and_event_is_asserted() -> None:
    here = Path(__file__).parent
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted(here.glob("*.py"))
                       if p.name != Path(__file__).name)
    names = {item["name"] for name in artifacts.names() for item in artifacts.load(name).abi
             if item["type"] in ("error", "event")}
    assert names - NEVER_EMITTED, "the ABIs declare errors and events"
    missing = sorted(n for n in names - NEVER_EMITTED if f'"{n}"' not in source)
    assert missing == []
