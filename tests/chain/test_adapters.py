"""The one test class every chain adapter must pass (after eth-tester's backend_testing.py).

Runs against the embedded chain in memory, the embedded chain on a home directory, and anvil over
JSON-RPC. The anvil node is shared by the session, so tests use fresh accounts and relative block
numbers and never assume an empty chain.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chain_kit import (
    ETHER,
    REVERTER_INIT_CODE,
    STORED_TOPIC,
    Adapter,
    Toolkit,
    contract_address,
)
from eth_account import Account
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import Nonce
from web3.utils.address import get_create_address

from govchain.adapters import artifacts
from govchain.adapters.chain import (
    Chain,
    InvalidTimestampError,
    TransactionRejectedError,
    open_chain,
)
from govchain.errors import GovchainError, LedgerUnavailableError
from support.anvil import start_anvil


@pytest.fixture
def node_down_chain(adapter: Adapter) -> Iterator[Chain]:
    """A chain whose node was killed after it was opened (a node of its own, not the shared one)."""
    if adapter.kind != "anvil":
        pytest.skip("the embedded chain runs in process: there is no node that could be down")
    with start_anvil() as node:
        chain = open_chain(home=None, rpc_url=node.url)
    try:
        yield chain
    finally:
        chain.close()


class TestChainAdapter:
    def test_chain_id_is_the_nodes_and_stable(self, adapter: Adapter) -> None:
        chain = adapter.chain
        assert chain.chain_id == chain.w3.eth.chain_id > 0
        assert adapter.reopen().chain_id == chain.chain_id

    def test_head_and_block_times_as_web3_reads_them(self, chain: Chain, kit: Toolkit) -> None:
        kit.new_account()  # a transaction: at least one block beyond genesis
        latest = chain.w3.eth.get_block("latest")
        for _ in range(3):  # the lean client keeps its connection between calls
            assert chain.block_number() == int(latest["number"])
        assert chain.block_timestamp(int(latest["number"])) == int(latest["timestamp"])
        assert chain.block_timestamp(0) == int(chain.w3.eth.get_block(0)["timestamp"])

    def test_fund_tops_up_to_at_least_the_amount(self, chain: Chain, kit: Toolkit) -> None:
        account = kit.new_account(wei=0)
        assert chain.w3.eth.get_balance(account.address) == 0
        chain.fund(account.address, 2 * ETHER)
        assert chain.w3.eth.get_balance(account.address) == 2 * ETHER
        chain.fund(account.address, ETHER)  # already enough: nothing happens
        assert chain.w3.eth.get_balance(account.address) == 2 * ETHER

    def test_signed_transfer_is_mined_with_a_receipt(self, chain: Chain, kit: Toolkit) -> None:
        sender, recipient = kit.new_account(), Account.create()
        before = chain.latest_block()
        raw = kit.sign(sender, to=recipient.address, value=12345)
        tx_hash = chain.send_raw_transaction(raw)
        assert tx_hash == keccak(raw)
        receipt = chain.wait_for_receipt(tx_hash)
        assert receipt["status"] == 1
        assert bytes(receipt["transactionHash"]) == tx_hash
        assert receipt["from"] == sender.address
        assert receipt["to"] == recipient.address
        assert receipt["gasUsed"] == 21_000
        latest = chain.latest_block()
        assert receipt["blockNumber"] == latest.number > before.number
        assert latest.timestamp > before.timestamp or latest.number > before.number
        assert bytes(receipt["blockHash"]) == latest.hash
        assert chain.w3.eth.get_balance(recipient.address) == 12345
        assert chain.w3.eth.get_transaction(HexBytes(tx_hash))["nonce"] == 0

    def test_dynamic_fee_transaction(self, chain: Chain, kit: Toolkit) -> None:
        sender, recipient = kit.new_account(), Account.create()
        base_fee = chain.w3.eth.get_block("latest")["baseFeePerGas"]
        receipt = kit.send(sender, to=recipient.address, value=7, maxFeePerGas=2 * base_fee + 10**9,
                           maxPriorityFeePerGas=10**9)
        assert receipt["status"] == 1
        assert receipt["type"] == 2
        assert chain.w3.eth.get_balance(recipient.address) == 7

    def test_contract_deployment_calls_and_logs(self, chain: Chain, kit: Toolkit) -> None:
        deployer = kit.new_account()
        receipt = kit.deploy(deployer)
        assert receipt["status"] == 1
        address = contract_address(receipt)
        assert address == get_create_address(deployer.address, Nonce(0))
        assert chain.w3.eth.get_code(address)
        assert kit.stored(address) == 42

        receipt = kit.send(deployer, to=address, data=(7).to_bytes(32, "big"), gas=100_000)
        assert receipt["status"] == 1
        (log,) = receipt["logs"]
        assert log["address"] == address
        assert [bytes(t) for t in log["topics"]] == [STORED_TOPIC]
        assert int.from_bytes(log["data"], "big") == 7
        assert kit.stored(address) == 7

        logs = chain.w3.eth.get_logs({"address": address, "fromBlock": receipt["blockNumber"] - 1,
                                      "toBlock": "latest", "topics": [HexBytes(STORED_TOPIC)]})
        assert [(entry["blockNumber"], bytes(entry["transactionHash"])) for entry in logs] == [
            (receipt["blockNumber"], bytes(receipt["transactionHash"]))]
        estimate = chain.w3.eth.estimate_gas({"from": deployer.address, "to": address,
                                              "data": (8).to_bytes(32, "big")})
        assert 21_000 < estimate < 100_000

    def test_reverted_transaction_gives_a_receipt_with_status_0(self, chain: Chain,
                                                                kit: Toolkit) -> None:
        sender = kit.new_account()
        address = kit.deploy_contract(sender, REVERTER_INIT_CODE)
        receipt = kit.send(sender, to=address, gas=50_000)
        assert receipt["status"] == 0
        for attempt in (lambda: chain.w3.eth.call({"to": address}),
                        lambda: chain.w3.eth.estimate_gas({"from": sender.address, "to": address})):
            with pytest.raises(ContractLogicError) as reverted:
                attempt()
            assert reverted.value.data == "0x"
        assert chain.w3.eth.get_transaction_count(sender.address) == 2

    def test_nonces_follow_each_other(self, chain: Chain, kit: Toolkit) -> None:
        sender, recipient = kit.new_account(), Account.create()
        raws = [kit.sign(sender, to=recipient.address, value=1, nonce=n) for n in range(3)]
        hashes = [chain.send_raw_transaction(raw) for raw in raws]
        receipts = [chain.wait_for_receipt(h) for h in hashes]
        assert all(r["status"] == 1 for r in receipts)
        order = [(r["blockNumber"], r["transactionIndex"]) for r in receipts]
        assert order == sorted(order)
        assert chain.w3.eth.get_transaction_count(sender.address) == 3
        assert chain.w3.eth.get_transaction_count(sender.address, "pending") == 3

    def test_refused_raw_transactions_raise_with_the_nodes_reason(self, chain: Chain,
                                                                  kit: Toolkit) -> None:
        sender, recipient = kit.new_account(), Account.create()
        first = kit.sign(sender, to=recipient.address, value=1, nonce=0)
        chain.wait_for_receipt(chain.send_raw_transaction(first))
        block = chain.latest_block()

        reused = kit.sign(sender, to=recipient.address, value=2, nonce=0)
        with pytest.raises(TransactionRejectedError, match=r"(?i)nonce"):
            chain.send_raw_transaction(reused)
        with pytest.raises(TransactionRejectedError, match=r"(?i)nonce"):
            chain.send_raw_transaction(first)  # the same transaction again
        poor = Account.create()
        with pytest.raises(TransactionRejectedError, match=r"(?i)funds|afford|balance"):
            chain.send_raw_transaction(kit.sign(poor, to=recipient.address, value=1, nonce=0))
        with pytest.raises(TransactionRejectedError, match="Chain 1 "):
            chain.send_raw_transaction(kit.sign(sender, to=recipient.address, chainId=1))
        with pytest.raises(TransactionRejectedError):
            chain.send_raw_transaction(b"\x01garbage")
        with pytest.raises(TransactionRejectedError):
            chain.send_raw_transaction(b"\xc3\x01\x02\x03")
        assert issubclass(TransactionRejectedError, GovchainError)
        assert chain.latest_block() == block
        assert chain.w3.eth.get_transaction_count(sender.address) == 1

    def test_next_block_timestamp(self, chain: Chain, kit: Toolkit) -> None:
        sender = kit.new_account()
        latest = chain.latest_block()
        with pytest.raises(InvalidTimestampError):
            chain.set_next_block_timestamp(latest.timestamp)
        wanted = latest.timestamp + 3600
        chain.set_next_block_timestamp(wanted)
        receipt = kit.send(sender, to=sender.address)
        assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == wanted
        later = kit.send(sender, to=sender.address)  # anvil may give it the same second again
        assert chain.w3.eth.get_block(later["blockNumber"])["timestamp"] >= wanted

    def test_receipt_of_an_unknown_transaction_times_out(self, chain: Chain) -> None:
        with pytest.raises(LedgerUnavailableError):
            chain.wait_for_receipt(keccak(b"never sent"), timeout=0.3)

    def test_sync_and_a_second_view_see_the_same_ledger(self, adapter: Adapter,
                                                         kit: Toolkit) -> None:
        receipt = kit.deploy(kit.new_account())
        adapter.chain.sync()
        other = adapter.reopen()
        if adapter.kind == "memory":
            assert other.latest_block().number == 0  # memory chains share nothing
            return
        assert other.latest_block() == adapter.chain.latest_block()
        assert other.w3.eth.get_code(contract_address(receipt))

    def test_issuer_registry_deploys(self, chain: Chain, kit: Toolkit) -> None:
        art = artifacts.load("IssuerRegistry")
        admin = kit.new_account(10 * ETHER)
        factory = chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        init_code = factory.constructor(admin.address).data_in_transaction
        receipt = kit.deploy(admin, bytes.fromhex(init_code.removeprefix("0x")), gas=5_000_000)
        assert receipt["status"] == 1
        registry = chain.w3.eth.contract(address=contract_address(receipt), abi=art.abi)
        assert registry.functions.hasRole(keccak(text="REGISTRAR_ROLE"), admin.address).call()
        granted = registry.events.RoleGranted().get_logs(from_block=receipt["blockNumber"])
        assert {to_checksum_address(e["args"]["account"]) for e in granted} == {admin.address}

        # A refusal reaches web3 as the node's revert data, also for an account without ether.
        stranger = Account.create().address
        admit = registry.functions.admitMunicipality(b"05334002", "Stadt Aachen", [], [])
        unauthorized = function_signature_to_4byte_selector(
            "AccessControlUnauthorizedAccount(address,bytes32)")
        for attempt in (lambda: admit.call({"from": stranger}),
                        lambda: admit.estimate_gas({"from": stranger})):
            with pytest.raises(ContractCustomError) as refused:
                attempt()
            assert isinstance(refused.value.data, str)
            assert bytes.fromhex(refused.value.data[2:10]) == unauthorized
        assert registry.functions.hasRole(keccak(text="REGISTRAR_ROLE"), stranger).call(
            {"from": stranger}) is False

    def test_node_down_is_ledger_unavailable(self, node_down_chain: Chain) -> None:
        chain = node_down_chain
        raw = Account.create().sign_transaction({
            "to": Account.create().address, "value": 0, "gas": 21_000, "gasPrice": 10**9,
            "nonce": 0, "chainId": chain.chain_id}).raw_transaction
        for operation in (chain.latest_block, lambda: chain.w3.eth.block_number,
                          chain.block_number, lambda: chain.block_timestamp(0),
                          lambda: chain.send_raw_transaction(bytes(raw)),
                          lambda: chain.wait_for_receipt(keccak(b"x"), timeout=1),
                          lambda: chain.fund(Account.create().address, ETHER),
                          lambda: chain.set_next_block_timestamp(2**40)):
            with pytest.raises(LedgerUnavailableError):
                operation()
        assert chain.w3.is_connected() is False
