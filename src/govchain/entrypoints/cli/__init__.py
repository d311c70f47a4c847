"""The `govchain` command line: registrar, issuer and verifier commands over the service layer.

`base` holds the `main` group and what every command shares; each other module adds its commands
to it when imported here (imports point one way: this package → command modules → base).
"""

from __future__ import annotations

from govchain.entrypoints.cli import accounts, bulk, documents, home, registry, serving
from govchain.entrypoints.cli import backup as backup  # backup, restore
from govchain.entrypoints.cli.base import main

__all__ = ["accounts", "bulk", "documents", "home", "main", "registry", "serving"]
