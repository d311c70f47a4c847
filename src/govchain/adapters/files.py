"""Files and folders that only the service's own user may open: the home (0700) and the SQLite
database with its -wal and -shm files (0600), which hold every document's personal data and the
password hashes. Keystores and the token key are written 0600 by their own modules."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from govchain.errors import ConfigurationError

OWNER_ONLY_DIR = 0o700
OWNER_ONLY_FILE = 0o600


def private_dir(path: Path) -> None:
    """Creates `path` (and missing parents) for its owner only; an existing one loses any access
    of group and others (homes made by earlier versions were 0755)."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=OWNER_ONLY_DIR)
        owner_only(path)
    except OSError as err:
        raise ConfigurationError(f"Verzeichnis {path} lässt sich nicht anlegen oder nicht auf "
                                 f"den Eigentümer beschränken: {err.strerror}") from err


def private_file(path: Path) -> None:
    """Creates `path` empty with mode 0600 unless it exists; an existing one loses any access of
    group and others."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, OWNER_ONLY_FILE))
        owner_only(path)
    except OSError as err:
        raise ConfigurationError(f"Datei {path} lässt sich nicht anlegen oder nicht auf den "
                                 f"Eigentümer beschränken: {err.strerror}") from err


def owner_only(path: Path) -> None:
    """Takes group and others' permissions away from an existing `path`."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & ~0o077)
