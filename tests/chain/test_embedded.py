"""The embedded chain's persistence: journal, replay, snapshots, several processes on one home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from chain_kit import ETHER, Toolkit
from eth_account import Account
from eth_utils.crypto import keccak
from web3.types import Wei

from govchain.adapters.chain import ChainFeatureUnsupportedError, TransactionRejectedError, open_chain
from govchain.adapters.chain.embedded import EmbeddedChain
from govchain.adapters.chain.journal import _Journal
from govchain.errors import ConfigurationError, GovchainError

# Run as a separate process: prints what it sees of the chain in a home, or writes to it.
PROCESS = r"""
import json, sys, time
from pathlib import Path
from eth_account import Account
from govchain.adapters.chain import open_chain

home, mode = Path(sys.argv[1]), sys.argv[2]
with open_chain(home=home, rpc_url=None) as chain:
    w3 = chain.w3
    if mode == "look":
        address = sys.argv[3] if len(sys.argv) > 3 else None
        latest = chain.latest_block()
        print(json.dumps({
            "hashes": [w3.eth.get_block(n)["hash"].hex() for n in range(latest.number + 1)],
            "timestamps": [w3.eth.get_block(n)["timestamp"] for n in range(latest.number + 1)],
            "stored": int.from_bytes(w3.eth.call({"to": address}), "big") if address else None,
        }))
    else:  # write: KEY COUNT GO_FILE
        account = Account.from_key(sys.argv[3])
        count, go = int(sys.argv[4]), Path(sys.argv[5])
        chain.fund(account.address, 10**18)
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        hashes = []
        for _ in range(count):
            tx = {"to": "0x000000000000000000000000000000000000dEaD", "value": 1, "gas": 21000,
                  "gasPrice": w3.eth.gas_price, "chainId": chain.chain_id,
                  "nonce": w3.eth.get_transaction_count(account.address, "pending")}
            raw = bytes(account.sign_transaction(tx).raw_transaction)
            tx_hash = chain.send_raw_transaction(raw)
            assert chain.wait_for_receipt(tx_hash)["status"] == 1
            hashes.append(tx_hash.hex())
        print(json.dumps(hashes))
"""


def run(home: Path, *args: str) -> Any:
    proc = subprocess.run([sys.executable, "-c", PROCESS, str(home), *args], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def spawn(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PROCESS, str(home), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def block_hashes(chain: EmbeddedChain) -> list[str]:
    return [chain.w3.eth.get_block(n)["hash"].hex() for n in range(chain.latest_block().number + 1)]


def journal(home: Path) -> Path:
    return home / "chain" / "journal"


def snapshot(home: Path) -> Path:
    return home / "chain" / "snapshot"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def populate(chain: EmbeddedChain) -> tuple[str, int]:
    """Deploys, changes state, mines a block at a chosen time; returns the contract and the time."""
    kit = Toolkit(chain)
    owner = kit.new_account()
    address = kit.deploy_contract(owner)
    kit.send(owner, to=address, data=(7).to_bytes(32, "big"), gas=100_000)
    when = chain.latest_block().timestamp + 86_400
    chain.set_next_block_timestamp(when)
    kit.send(owner, to=owner.address)
    return address, when


def test_reopened_and_other_processes_see_the_identical_chain(home: Path) -> None:
    with EmbeddedChain(home) as chain:
        address, when = populate(chain)
        expected = block_hashes(chain)
        seen = run(home, "look", address)  # while this process still has the chain open
        assert seen["hashes"] == expected
        assert seen["stored"] == 7
        assert seen["timestamps"][-1] == when

    with EmbeddedChain(home) as again:
        assert block_hashes(again) == expected
        assert Toolkit(again).stored(address) == 7

    snapshot(home).unlink(missing_ok=True)
    with EmbeddedChain(home) as replayed:  # from the journal alone
        assert replayed.stats["snapshot_entries"] == 0
        assert block_hashes(replayed) == expected


def test_reads_and_sync_see_what_another_process_wrote(home: Path) -> None:
    with EmbeddedChain(home) as chain:
        kit = Toolkit(chain)
        mine = kit.new_account()
        before = chain.latest_block().number
        key = "0x" + keccak(b"other process").hex()
        run(home, "write", key, "2", str(home))  # the go file exists: start at once
        chain.sync()
        assert chain.latest_block().number == before + 3  # funding and two transfers
        other = Account.from_key(key).address
        assert chain.w3.eth.get_transaction_count(other) == 2
        # Our next transaction follows theirs.
        receipt = kit.send(mine, to=mine.address)
        assert receipt["blockNumber"] == before + 4
        expected = block_hashes(chain)
    with EmbeddedChain(home) as again:
        assert block_hashes(again) == expected


@pytest.mark.slow
def test_concurrent_writers_lose_and_reorder_nothing(home: Path) -> None:
    count = 12
    go = home.parent / "go"
    keys = ["0x" + keccak(name).hex() for name in (b"writer a", b"writer b")]
    EmbeddedChain(home).close()
    writers = [spawn(home, "write", key, str(count), str(go)) for key in keys]
    time.sleep(0.5)
    go.touch()
    results = []
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))

    with EmbeddedChain(home) as chain:
        w3 = chain.w3
        latest = chain.latest_block().number
        assert latest == 2 * (count + 1)  # one funding and `count` transfers each, one per block
        for key, hashes in zip(keys, results, strict=True):
            sender = Account.from_key(key).address
            assert w3.eth.get_transaction_count(sender) == count
            txs = [w3.eth.get_transaction(h) for h in hashes]
            assert [tx["nonce"] for tx in txs] == list(range(count))
            assert [tx["blockNumber"] for tx in txs] == sorted(tx["blockNumber"] for tx in txs)
        senders = [w3.eth.get_block(n, full_transactions=True)["transactions"]
                   for n in range(1, latest + 1)]
        assert all(len(block) == 1 for block in senders)
        expected = block_hashes(chain)
    lines = journal(home).read_bytes().splitlines()
    assert len(lines) == 1 + latest
    snapshot(home).unlink(missing_ok=True)
    with EmbeddedChain(home) as replayed:
        assert block_hashes(replayed) == expected


def test_a_torn_last_line_is_ignored_and_cut_off_by_the_next_write(home: Path) -> None:
    with EmbeddedChain(home, snapshot_min=10**6) as chain:
        kit = Toolkit(chain)
        account = kit.new_account()
        expected = block_hashes(chain)
    intact = journal(home).read_bytes()
    for torn in (b'{"ts":1795000000,"block":2,"hash":"0x12', b'{"ts":17950\0\0\0\0\0\n'):
        journal(home).write_bytes(intact + torn)
        with EmbeddedChain(home, snapshot_min=10**6) as chain:
            assert block_hashes(chain) == expected
    with EmbeddedChain(home, snapshot_min=10**6) as chain:
        Toolkit(chain).send(account, to=account.address)
        expected = block_hashes(chain)
    data = journal(home).read_bytes()
    assert data.startswith(intact) and b"\0" not in data
    assert all(json.loads(line) for line in data.splitlines())
    with EmbeddedChain(home) as chain:
        assert block_hashes(chain) == expected


def test_a_damaged_journal_is_refused(home: Path) -> None:
    with EmbeddedChain(home, snapshot_min=10**6) as chain:
        kit = Toolkit(chain)
        account = kit.new_account()
        kit.send(account, to=account.address)
    lines = journal(home).read_bytes().splitlines(keepends=True)
    journal(home).write_bytes(b"".join([lines[0], b"garbage\n", *lines[1:]]))
    with pytest.raises(ConfigurationError, match="beschädigt"):
        EmbeddedChain(home)

    entry = json.loads(lines[1])
    entry["hash"] = "0x" + "00" * 32  # a block that replay cannot reproduce
    journal(home).write_bytes(b"".join([lines[0], json.dumps(entry).encode() + b"\n",
                                        *lines[2:]]))
    with pytest.raises(ConfigurationError, match="nachgespielt"):
        EmbeddedChain(home)


def test_an_unknown_journal_version_or_genesis_is_refused(home: Path) -> None:
    EmbeddedChain(home).close()
    header, rest = journal(home).read_bytes().split(b"\n", 1)
    fields = json.loads(header)
    journal(home).write_bytes(json.dumps({**fields, "version": 99}).encode() + b"\n" + rest)
    with pytest.raises(ConfigurationError, match="Format-Version 99"):
        open_chain(home=home, rpc_url=None)
    journal(home).write_bytes(json.dumps({**fields, "genesis": "0x" + "11" * 32}).encode() + b"\n")
    with pytest.raises(ConfigurationError, match="anderen Genesis"):
        open_chain(home=home, rpc_url=None)
    journal(home).write_bytes(b'{"some": "other file"}\n')
    with pytest.raises(ConfigurationError, match="kein Journal"):
        open_chain(home=home, rpc_url=None)


def test_snapshots_speed_up_opening_and_are_checked(home: Path, tmp_path: Path) -> None:
    with EmbeddedChain(home, snapshot_every=3, snapshot_min=1) as chain:
        kit = Toolkit(chain)
        account = kit.new_account()
        for _ in range(6):
            kit.send(account, to=account.address)
        expected = block_hashes(chain)
        entries = chain.latest_block().number
    assert snapshot(home).exists()

    with EmbeddedChain(home) as chain:
        assert chain.stats["snapshot_entries"] == entries
        assert chain.stats["replayed"] == 0
        assert block_hashes(chain) == expected
        Toolkit(chain).send(account, to=account.address)  # one entry beyond the snapshot
        expected = block_hashes(chain)
    with EmbeddedChain(home, snapshot_min=10**6) as chain:
        assert (chain.stats["snapshot_entries"], chain.stats["replayed"]) == (entries, 1)
        assert block_hashes(chain) == expected

    damaged = bytearray(snapshot(home).read_bytes())
    damaged[-1] ^= 0xFF
    snapshot(home).write_bytes(bytes(damaged))
    with EmbeddedChain(home, snapshot_min=10**6) as chain:
        assert chain.stats["snapshot_entries"] == 0
        assert block_hashes(chain) == expected

    # A snapshot of another journal (same genesis, other transactions) is not used.
    other = tmp_path / "other"
    with EmbeddedChain(other, snapshot_min=1) as chain:
        Toolkit(chain).new_account()
    snapshot(home).write_bytes(snapshot(other).read_bytes())
    with EmbeddedChain(home, snapshot_min=10**6) as chain:
        assert chain.stats["snapshot_entries"] == 0
        assert block_hashes(chain) == expected


def test_next_block_timestamp_is_journaled(home: Path) -> None:
    with EmbeddedChain(home) as chain:
        account = Toolkit(chain).new_account()
        when = chain.latest_block().timestamp + 1000
        chain.set_next_block_timestamp(when)
    with EmbeddedChain(home) as chain:
        receipt = Toolkit(chain).send(account, to=account.address)
        assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == when


def test_web3_sends_through_the_journal_and_refuses_what_it_cannot_journal(home: Path) -> None:
    with EmbeddedChain(home) as chain:
        kit = Toolkit(chain)
        account = kit.new_account()
        tx_hash = chain.w3.eth.send_raw_transaction(kit.sign(account, to=account.address))
        assert chain.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
        expected = block_hashes(chain)
        with pytest.raises(ChainFeatureUnsupportedError, match="eth_sendTransaction"):
            chain.w3.eth.send_transaction({"from": chain.w3.eth.accounts[0],
                                           "to": account.address, "value": Wei(1)})
        with pytest.raises(ChainFeatureUnsupportedError, match="evm_mine"):
            chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    with EmbeddedChain(home) as chain:
        assert block_hashes(chain) == expected


def test_a_refused_or_unwritable_transaction_changes_nothing(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddedChain(home) as chain:
        kit = Toolkit(chain)
        account = kit.new_account()
        size, block = journal(home).stat().st_size, chain.latest_block()
        with pytest.raises(TransactionRejectedError):
            chain.send_raw_transaction(kit.sign(account, to=account.address, nonce=5))
        assert journal(home).stat().st_size == size

        def disk_full(*_args: object, **_kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        raw = kit.sign(account, to=account.address)
        with monkeypatch.context() as patch:
            patch.setattr(_Journal, "append", disk_full)
            with pytest.raises(ConfigurationError, match="No space left"):
                chain.send_raw_transaction(raw)
        assert chain.latest_block() == block
        assert chain.w3.eth.get_transaction_count(account.address) == 0
        receipt = chain.wait_for_receipt(chain.send_raw_transaction(raw))
        assert receipt["blockNumber"] == block.number + 1
        expected = block_hashes(chain)
    with EmbeddedChain(home) as chain:
        assert block_hashes(chain) == expected


def test_in_memory_chains_write_nothing_and_share_nothing(tmp_path: Path) -> None:
    os.chdir(tmp_path)
    with open_chain(home=None, rpc_url=None) as first, \
            open_chain(home=None, rpc_url=None) as second:
        Toolkit(first).new_account()
        assert (first.latest_block().number, second.latest_block().number) == (1, 0)
        assert first.latest_block().timestamp > second.latest_block().timestamp
    assert list(tmp_path.iterdir()) == []


def test_a_closed_chain_refuses_writes(home: Path) -> None:
    chain = EmbeddedChain(home)
    chain.close()
    chain.close()
    with pytest.raises(GovchainError, match="geschlossen"):
        chain.fund(Account.create().address, ETHER)
