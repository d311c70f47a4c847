"""The committed artifacts and gas report are what the sources produce.

test_artifacts_rebuild_byte_for_byte runs the real compiler (solc-js from node_modules, as installed
by `scripts/bootstrap --dev`); everything else here needs no compiler.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from contracts_world import World
from eth_utils.crypto import keccak

from govchain.adapters import artifacts, build
from govchain.errors import ConfigurationError

REPO = Path(__file__).resolve().parents[2]


def _gas_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gas_report", REPO / "scripts" / "gas_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_artifacts_rebuild_byte_for_byte() -> None:
    assert build.check(REPO) == []


def test_gas_snapshot_matches_measured_gas() -> None:
    report = _gas_report()
    measured = report.measure()
    committed = json.loads(report.SNAPSHOT.read_text(encoding="utf-8"))
    # On failure: run `python scripts/gas_report.py` and review the change in contracts/GAS.md.
    assert measured == committed
    assert report.render_snapshot(measured) == report.SNAPSHOT.read_text(encoding="utf-8")
    assert report.render_report(measured) == report.REPORT.read_text(encoding="utf-8")


def test_gas_targets_hold() -> None:
    snapshot = json.loads((REPO / "contracts" / "gas-snapshot.json").read_text(encoding="utf-8"))
    per_doc = {(b["documents"], b["roots"]): b["gasPerDocument"] for b in snapshot["batches"]}
    assert per_doc[(100, 1)] <= 1_000
    assert per_doc[(1_000, 1)] <= 150


def test_build_info_hashes_match_the_sources() -> None:
    info = artifacts.build_info()
    recorded = info["sources"]
    project = {k for k in recorded if k.startswith("contracts/")}
    assert project == {p.relative_to(REPO).as_posix() for p in (REPO / "contracts").rglob("*.sol")}
    for key, entry in recorded.items():
        path = REPO / key if key in project else REPO / "node_modules" / key
        if not path.is_file():
            pytest.fail(f"{key}: missing (node_modules installed?)")
        assert entry["keccak256"] == "0x" + keccak(path.read_bytes()).hex(), key
    assert info["compiler"]["version"].startswith(build.SOLC_VERSION + "+commit.")
    assert info["settings"] == build.SETTINGS


def test_artifacts_load() -> None:
    assert artifacts.names() == ("DocumentRegistry", "IssuerRegistry")
    for name in artifacts.names():
        art = artifacts.load(name)
        assert art.name == name and art.source == f"contracts/{name}.sol"
        assert art.bytecode and art.deployed_bytecode
        assert art.deployed_bytecode in art.bytecode
        assert {"function", "event", "error", "constructor"} <= {i["type"] for i in art.abi}
    # every call gets its own ABI list: a caller that mutates it cannot corrupt another
    artifacts.load("IssuerRegistry").abi.clear()
    assert artifacts.load("IssuerRegistry").abi


def test_unknown_artifact() -> None:
    with pytest.raises(ConfigurationError):
        artifacts.load("Nope")


def test_deployed_code_is_the_artifact(world: World) -> None:
    code = bytes(world.w3.eth.get_code(world.issuers.address))
    assert code == artifacts.load("IssuerRegistry").deployed_bytecode
    # DocumentRegistry's runtime code carries the registry address as an immutable (a 32-byte word)
    code = bytes(world.w3.eth.get_code(world.documents.address))
    word = bytes(12) + bytes.fromhex(world.issuers.address[2:])
    assert word in code
    assert code.replace(word, bytes(32)) == artifacts.load("DocumentRegistry").deployed_bytecode


def test_collect_sources_follows_imports_not_comments(tmp_path: Path) -> None:
    (tmp_path / "contracts" / "lib").mkdir(parents=True)
    (tmp_path / "contracts" / "A.sol").write_text(
        '// import "./Missing.sol";\n'
        '/* import {X} from "./AlsoMissing.sol"; */\n'
        'import {B} from "./lib/B.sol";\n'
        'import * as C from "./lib/C.sol";\n'
        'contract A {}\n')
    (tmp_path / "contracts" / "lib" / "B.sol").write_text('import "../lib/C.sol";\ncontract B {}\n')
    (tmp_path / "contracts" / "lib" / "C.sol").write_text("contract C {}\n")
    assert list(build.collect_sources(tmp_path)) == [
        "contracts/A.sol", "contracts/lib/B.sol", "contracts/lib/C.sol"]


def test_collect_sources_of_the_project() -> None:
    keys = list(build.collect_sources(REPO))
    assert keys == sorted(keys)
    assert {"contracts/IssuerRegistry.sol", "contracts/DocumentRegistry.sol",
            "contracts/interfaces/IIssuerRegistry.sol",
            "@openzeppelin/contracts/access/AccessControl.sol",
            "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol"} <= set(keys)
    assert set(keys) == set(artifacts.build_info()["sources"])


def test_missing_import_is_a_build_error(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "A.sol").write_text('import "@openzeppelin/contracts/Nope.sol";\n')
    with pytest.raises(build.BuildError, match=r"Nope\.sol"):
        build.collect_sources(tmp_path)
