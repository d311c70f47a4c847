"""Builds the contracts into src/govchain/artifacts (or, with --check, verifies the committed ones).

    python scripts/build_contracts.py [--check]
"""

from __future__ import annotations

import sys

from govchain.adapters.build import main

if __name__ == "__main__":
    sys.exit(main())
