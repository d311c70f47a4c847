"""The compiled contracts, committed as package data so that running govchain needs no compiler.

Produced by `python scripts/build_contracts.py` (govchain.adapters.build); `build-info.json` beside them
records the compiler, its settings and the hashes of the sources they come from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from govchain.errors import ConfigurationError

__all__ = ["Artifact", "build_info", "load", "names"]

_BUILD_INFO = "build-info.json"


@dataclass(frozen=True)
class Artifact:
    """One deployable contract: its ABI and its creation and runtime bytecode."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes


def load(name: str) -> Artifact:
    """The artifact of contract `name`, e.g. "DocumentRegistry". Each call gets its own ABI list."""
    data = _read(f"{name}.json") if name in names() else None
    if data is None:
        raise ConfigurationError(
            f"Kein Vertragsartefakt {name!r} (vorhanden: {', '.join(names())}); "
            "Installation unvollständig?")
    return Artifact(
        name=data["contractName"],
        source=data["sourceName"],
        abi=data["abi"],
        bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
        deployed_bytecode=bytes.fromhex(data["deployedBytecode"].removeprefix("0x")),
    )


def names() -> tuple[str, ...]:
    """The deployable contracts, in build order."""
    return tuple(build_info()["contracts"])


def build_info() -> dict[str, Any]:
    """Compiler, settings and source hashes the artifacts were built with."""
    return _read(_BUILD_INFO)


def _read(file_name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_text(file_name))
    return data


@cache
def _text(file_name: str) -> str:
    try:
        return resources.files(__name__).joinpath(file_name).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ConfigurationError(
            f"Vertragsartefakt {file_name} fehlt; Installation unvollständig?") from err
