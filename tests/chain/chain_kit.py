"""Helpers for the chain tests: a contract written in bytecode and a toolkit that signs transactions
with eth-account the way govchain's ledger bindings do (locally signed, sent raw)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from web3.types import TxReceipt

from govchain.adapters.chain import Chain

ETHER = 10**18

# A contract in hand-written bytecode, so these tests need no compiler. Its constructor stores 42
# in slot 0. Called with 32 bytes of calldata it stores them and logs them as `Stored(uint256)`;
# called with none it returns slot 0.
STORED_TOPIC = keccak(text="Stored(uint256)")
_RUNTIME = (bytes.fromhex("36600f57"            # CALLDATASIZE PUSH1 set JUMPI
                          "60005460005260206000f3"  # return sload(0)
                          "5b600035806000556000527f")  # set: sstore(0, v); mstore(0, v); PUSH32
            + STORED_TOPIC + bytes.fromhex("60206000a100"))  # log1(0, 32, topic) STOP
STORAGE_INIT_CODE = (bytes.fromhex(f"602a600055"  # sstore(0, 42)
                                   f"60{len(_RUNTIME):02x}6011600039"  # codecopy(0, 17, len)
                                   f"60{len(_RUNTIME):02x}6000f3")  # return(0, len)
                     + _RUNTIME)
# Its constructor succeeds; every call reverts.
REVERTER_INIT_CODE = bytes.fromhex("6005600c60003960056000f3" "60006000fd")


@dataclass
class Toolkit:
    """Signs and sends transactions on one chain as the ledger bindings do (raw, locally signed)."""

    chain: Chain

    def new_account(self, wei: int = ETHER) -> LocalAccount:
        account: LocalAccount = Account.create()
        if wei:
            self.chain.fund(account.address, wei)
        return account

    def sign(self, sender: LocalAccount, **fields: Any) -> bytes:
        w3 = self.chain.w3
        tx: dict[str, Any] = {"value": 0, "gas": 21_000, "gasPrice": w3.eth.gas_price,
                              "chainId": self.chain.chain_id, **fields}
        if "nonce" not in tx:
            tx["nonce"] = w3.eth.get_transaction_count(sender.address, "pending")
        if "maxFeePerGas" in tx:
            del tx["gasPrice"]
        return bytes(sender.sign_transaction(tx).raw_transaction)

    def send(self, sender: LocalAccount, **fields: Any) -> TxReceipt:
        return self.chain.wait_for_receipt(
            self.chain.send_raw_transaction(self.sign(sender, **fields)))

    def deploy(self, sender: LocalAccount, init_code: bytes = STORAGE_INIT_CODE,
               gas: int = 200_000) -> TxReceipt:
        return self.send(sender, data=init_code, gas=gas)

    def deploy_contract(self, sender: LocalAccount, init_code: bytes = STORAGE_INIT_CODE,
                        gas: int = 200_000) -> ChecksumAddress:
        return contract_address(self.deploy(sender, init_code, gas))

    def stored(self, address: str) -> int:
        return int.from_bytes(self.chain.w3.eth.call({"to": address, "data": b""}), "big")


def contract_address(receipt: TxReceipt) -> ChecksumAddress:
    address = receipt["contractAddress"]
    assert address is not None, "not a deployment"
    return address


@dataclass
class Adapter:
    """One chain adapter under test and how to get a second view of the same ledger."""

    kind: str
    chain: Chain
    reopen: Callable[[], Chain]  # a new, independent Chain on the same ledger (memory: a new one)

