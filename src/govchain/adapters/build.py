"""Reproducible build of the govchain contracts into the committed artifacts (govchain.adapters.artifacts).

The build is a development step; running govchain never needs a compiler. Every source, the
project's and each imported OpenZeppelin file, goes into one standard-json input as `content` under
a stable relative key (`contracts/...`, `@openzeppelin/contracts/...`), so neither the checkout's
location nor the compiler's file access can change the output, and the metadata hash embedded in the
bytecode is the same on every machine. The compiler is the pinned solc-js from node_modules behind
`scripts/solc.js`, driven through py-solc-x's `compile_standard`.

    python scripts/build_contracts.py            # writes src/govchain/adapters/artifacts/*.json
    python scripts/build_contracts.py --check    # rebuilds in memory, compares byte for byte
"""

from __future__ import annotations

import argparse
import copy
import json
import posixpath
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import solcx
import solcx.wrapper
from eth_hash.auto import keccak
from solcx.exceptions import SolcError

from govchain.errors import GovchainError

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
SOLC_VERSION: Final = "0.8.28"
BUILD_INFO: Final = "build-info.json"

# Deployed once, called for every batch and every verification: runtime cost matters more than
# deployment cost or code size. Measured on these contracts: 10,000 runs save 70 to 350 gas per call
# against 200 runs (for 0.9M more deployment gas, once); 1,000,000 runs save a further 12 gas.
# Runtime stays under the 24 KiB code limit either way.
OPTIMIZER_RUNS: Final = 10_000

SETTINGS: Final[Mapping[str, Any]] = {
    "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
    "evmVersion": "cancun",
    "viaIR": False,
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]},
    },
}

# Import prefixes resolved from node_modules; every other key is a path below the repository root.
_PACKAGE_PREFIXES: Final = ("@openzeppelin/contracts/",)
# Comments and string literals in one pass, so that an `import` inside a comment is not followed.
_TOKENS: Final = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', re.S)
_IMPORT: Final = re.compile(r'\bimport\s+(?:[^;"\']*?\bfrom\s+)?(["\'])(?P<path>[^"\']+)\1')


class BuildError(GovchainError):
    """The contracts cannot be built (missing tool or source, compiler error or warning)."""


def contracts_dir(root: Path = REPO_ROOT) -> Path:
    return root / "contracts"


def artifacts_dir(root: Path = REPO_ROOT) -> Path:
    return root / "src" / "govchain" / "adapters" / "artifacts"


def solc_binary(root: Path = REPO_ROOT) -> Path:
    """The native-solc look-alike around the pinned solc-js (needs node and node_modules)."""
    return root / "scripts" / "solc.js"


def collect_sources(root: Path = REPO_ROOT) -> dict[str, str]:
    """contracts/*.sol and everything they import, transitively, as {source key: content}."""
    pending = sorted(p.relative_to(root).as_posix() for p in contracts_dir(root).glob("*.sol"))
    if not pending:
        raise BuildError(f"no contracts in {contracts_dir(root)}")
    sources: dict[str, str] = {}
    while pending:
        key = pending.pop()
        if key in sources:
            continue
        path = _file_of(root, key)
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError as err:
            hint = " (run scripts/bootstrap --dev for node_modules)" if key.startswith("@") else ""
            raise BuildError(f"source {key} not found at {path}{hint}") from err
        sources[key] = content
        pending.extend(_import_key(key, imported) for imported in _imports(content))
    return dict(sorted(sources.items()))


def standard_json_input(sources: Mapping[str, str]) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {key: {"content": sources[key]} for key in sorted(sources)},
        "settings": copy.deepcopy(dict(SETTINGS)),
    }


def compiler_version(root: Path = REPO_ROOT) -> str:
    """The compiler's version with its commit, e.g. "0.8.28+commit.7893614a"; checks the pin."""
    try:
        version = solcx.wrapper.get_solc_version(solc_binary(root), with_commit_hash=True)
    except (OSError, subprocess.CalledProcessError, SolcError) as err:
        raise BuildError(
            f"cannot run {solc_binary(root)} (node and node_modules needed): {err}") from err
    if version.base_version != SOLC_VERSION:
        raise BuildError(f"solc {version} found, {SOLC_VERSION} pinned")
    return str(version)


def compile_input(input_json: Mapping[str, Any], root: Path = REPO_ROOT) -> dict[str, Any]:
    """Runs the compiler. Any error, and (these being our own contracts) any warning, fails."""
    try:
        output: dict[str, Any] = solcx.compile_standard(
            dict(input_json), solc_binary=solc_binary(root))
    except (OSError, SolcError) as err:
        raise BuildError(f"compilation failed: {err}") from err
    messages = [e.get("formattedMessage", e.get("message", "")) for e in output.get("errors", [])]
    if messages:
        raise BuildError("compiler diagnostics:\n" + "\n".join(messages))
    return output


def build(root: Path = REPO_ROOT) -> dict[str, bytes]:
    """Compiles into memory: {file name in the artifacts directory: exact file content}."""
    sources = collect_sources(root)
    input_json = standard_json_input(sources)
    version = compiler_version(root)
    output = compile_input(input_json, root)

    files: dict[str, bytes] = {}
    contracts: dict[str, str] = {}
    for key in sorted(output["contracts"]):
        if posixpath.dirname(key) != "contracts":
            continue  # interfaces and libraries are not deployed on their own
        for name, compiled in sorted(output["contracts"][key].items()):
            bytecode = compiled["evm"]["bytecode"]["object"]
            if not bytecode:
                continue  # an interface or abstract contract in a top-level file
            if name in contracts:
                raise BuildError(f"contract {name} defined in {contracts[name]} and {key}")
            contracts[name] = key
            files[f"{name}.json"] = _dump({
                "contractName": name,
                "sourceName": key,
                "abi": compiled["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            })
    if not contracts:
        raise BuildError("the build produced no deployable contract")
    files[BUILD_INFO] = _dump({
        "compiler": {"name": "solc-js", "version": version},
        "language": input_json["language"],
        "settings": input_json["settings"],
        "sources": {key: {"keccak256": "0x" + keccak(content.encode("utf-8")).hex()}
                    for key, content in sources.items()},
        "contracts": contracts,
    })
    return files


def write(root: Path = REPO_ROOT) -> list[Path]:
    """Builds and writes the artifacts, removing stale ones; returns the files written."""
    files = build(root)
    target = artifacts_dir(root)
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, content in files.items():
        path = target / name
        path.write_bytes(content)
        written.append(path)
    return written


def check(root: Path = REPO_ROOT) -> list[str]:
    """Rebuilds into memory and compares with the committed artifacts; returns the differences."""
    files = build(root)
    target = artifacts_dir(root)
    problems = []
    for name, content in files.items():
        path = target / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.read_bytes() != content:
            problems.append(f"{name}: differs from a fresh build")
    problems += [f"{p.name}: not produced by the build" for p in sorted(target.glob("*.json"))
                 if p.name not in files]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the govchain contracts into artifacts.")
    parser.add_argument("--check", action="store_true",
                        help="rebuild in memory and compare with the committed artifacts")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check()
            for problem in problems:
                print(f"stale artifact: {problem}", file=sys.stderr)
            if problems:
                print("run: python scripts/build_contracts.py", file=sys.stderr)
                return 1
            print(f"artifacts in {artifacts_dir()} match the sources")
            return 0
        for path in write():
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 2


def _imports(content: str) -> list[str]:
    code = _TOKENS.sub(lambda m: m.group(0) if m.group(0)[0] in "\"'" else " ", content)
    return [m.group("path") for m in _IMPORT.finditer(code)]


def _import_key(importer: str, imported: str) -> str:
    """The source key solc gives an import: relative to the importer's key, or the path itself."""
    if imported.startswith(("./", "../")):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), imported))
    return posixpath.normpath(imported)


def _file_of(root: Path, key: str) -> Path:
    if key.startswith(_PACKAGE_PREFIXES):
        return root / "node_modules" / key
    if key.startswith(("/", "..")):
        raise BuildError(f"source key {key} lies outside the repository")
    return root / key


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
