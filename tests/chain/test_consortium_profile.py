"""The consortium chain profile in deploy/: its files say what deploy/README.md says, and govchain
works on a node configured like that network.

Besu itself is not available here (not on npm, PyPI or in Debian), so the service runs against
anvil set up as the profile's network: its chain id, Cancun, gas price and base fee 0, a block
every 2 seconds, and `anchor_confirmations` 0 (QBFT blocks are final).
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import rlp
from eth_utils.address import is_checksum_address, to_checksum_address

from govchain.settings import Settings
from support.anvil import AnvilNode, start_anvil
from support.serve import ServeProcess, prepare_home

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
GENESIS = DEPLOY / "besu" / "genesis.json"
NODES = ("dc1", "dc2", "dc3", "dc4")
USECASE = "gefaehrlicher-hund"
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"


def genesis() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GENESIS.read_text())
    return data


def documented_validators() -> list[str]:
    """The validator addresses in deploy/README.md's table (rows `| dc1 | … | 0x… |`)."""
    rows = [line for line in (DEPLOY / "README.md").read_text().splitlines()
            if re.match(r"\|\s*dc\d\s*\|", line)]
    return [address for row in rows for address in ADDRESS.findall(row)]


# -- the files ------------------------------------------------------------------------------------

def test_genesis_extra_data_names_the_four_documented_validators() -> None:
    """Besu's QBFT extraData: RLP([32-byte vanity, [validators], vote, round, seals]); in a genesis
    block no vote (empty list), round 0 (empty string) and no seals, as `besu rlp encode
    --type=QBFT_EXTRA_DATA` writes it."""
    extra = bytes.fromhex(genesis()["extraData"].removeprefix("0x"))
    vanity, validators, vote, round_number, seals = rlp.decode(extra)
    assert vanity == bytes(32)
    assert vote == [] and round_number == b"" and seals == []
    decoded = [to_checksum_address(v) for v in validators]
    documented = documented_validators()
    assert len(decoded) == 4 and len(set(decoded)) == 4
    assert decoded == documented
    assert all(is_checksum_address(a) for a in documented)
    assert rlp.encode([bytes(32), validators, [], b"", []]) == extra  # canonical encoding


def test_genesis_is_a_free_gas_qbft_network_with_two_second_blocks() -> None:
    data = genesis()
    config = data["config"]
    assert config["qbft"]["blockperiodseconds"] == 2
    assert config["zeroBaseFee"] is True
    assert config["londonBlock"] == 0 and config["shanghaiTime"] == 0 and config["cancunTime"] == 0
    assert data["mixHash"] == QBFT_MIX_HASH  # Besu refuses a BFT genesis without it
    assert data["alloc"] == {}  # with gas price 0 nobody needs ether
    assert str(config["chainId"]) in (DEPLOY / "README.md").read_text()


def test_every_node_serves_json_rpc_on_loopback_only_and_takes_free_transactions() -> None:
    hosts = set()
    for name in NODES:
        config = tomllib.loads((DEPLOY / "besu" / name / "config.toml").read_text())
        assert config["rpc-http-host"] == "127.0.0.1"
        assert config["min-gas-price"] == 0
        assert config["genesis-file"] == "/etc/besu/genesis.json"
        assert config["permissions-accounts-config-file-enabled"] is True
        assert config["permissions-nodes-config-file-enabled"] is True
        assert config["rpc-ws-enabled"] is False and config["graphql-http-enabled"] is False
        hosts.add(config["p2p-host"])
    assert len(hosts) == len(NODES)


def test_the_account_allowlist_holds_addresses_only() -> None:
    permissions = tomllib.loads((DEPLOY / "besu" / "permissions_config.toml").read_text())
    allowlist = permissions["accounts-allowlist"]
    assert allowlist and all(ADDRESS.fullmatch(a) for a in allowlist)
    assert len(permissions["nodes-allowlist"]) == len(NODES)


def test_the_service_unit_is_hardened_and_reads_its_secrets_from_a_file() -> None:
    unit = (DEPLOY / "systemd" / "govchain-serve.service").read_text()
    for line in ("User=govchain", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/govchain", "EnvironmentFile=/etc/govchain/secrets.env",
                 "--rpc-url http://127.0.0.1:8545"):
        assert line in unit


def test_the_proxy_forwards_https_with_hsts_but_not_metrics() -> None:
    conf = (DEPLOY / "nginx" / "govchain.conf").read_text()
    assert "listen 443 ssl" in conf and "Strict-Transport-Security" in conf
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert re.search(r"location = /metrics \{\s*return 404;", conf)



def test_the_home_config_trusts_the_proxy_and_waits_for_no_confirmations(tmp_path: Path) -> None:
    shutil.copy(DEPLOY / "govchain" / "config.toml", tmp_path / "config.toml")
    settings = Settings(home=tmp_path)  # refuses unknown settings
    assert settings.trusted_proxies == ["127.0.0.1"]  # nginx on the same host
    assert settings.anchor_confirmations == 0
    assert settings.host == "127.0.0.1"


# -- govchain on a node like it -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    with start_anvil(chain_id=int(genesis()["config"]["chainId"]), gas_price=0, base_fee=0,
                     block_time=2, hardfork="cancun") as started:
        yield started


def rpc(node: AnvilNode, method: str, *params: Any) -> Any:
    answer = httpx.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                        "params": list(params)}, timeout=30).json()
    assert "result" in answer, answer
    return answer["result"]


def subject(n: int) -> dict[str, Any]:
    example = sorted((Path(__file__).parents[2] / "usecases" / USECASE / "examples").glob("*.json"))[0]
    data: dict[str, Any] = json.loads(example.read_text())["subject"]
    data["hund"]["name"] = f"Bello {n}"
    return data


@pytest.mark.anvil
@pytest.mark.slow
def test_govchain_on_a_free_gas_network_with_two_second_blocks(tmp_path: Path,
                                                                node: AnvilNode) -> None:
    assert int(rpc(node, "eth_gasPrice"), 16) == 0
    home = tmp_path / "home"
    env = prepare_home(home, rpc_url=node.url, env={"GOVCHAIN_ANCHOR_CONFIRMATIONS": "0"})
    serve = ServeProcess(home, env).start()
    try:
        # Several documents within one block period: issued at once, anchored together.
        def issue(n: int) -> str:
            answer = httpx.post(serve.url("/api/v1/documents"), headers=serve.headers, timeout=60,
                                json={"usecase": USECASE, "subject": subject(n)})
            assert answer.status_code == 202, answer.text
            return str(answer.json()["id"])

        serve.headers  # noqa: B018 - sign in before the clock starts
        with ThreadPoolExecutor(6) as pool:
            ids = list(pool.map(issue, range(6)))
        serve.wait_until_none_pending(timeout=60)
        documents = [serve.get(f"/documents/{i}/credential", format="govchain") for i in ids]
        anchors = [d["proof"]["anchor"] for d in documents]
        assert {a["chainId"] for a in anchors} == {int(genesis()["config"]["chainId"])}
        blocks = [a["block"] for a in anchors]
        assert len(set(blocks)) < len(blocks), f"every document in a block of its own: {blocks}"

        serve.change_status(ids[0], "revoke")
        results = [httpx.post(serve.url("/api/v1/verify"), json=d, timeout=60).json()
                   for d in documents[:2]]
        assert [r["status"] for r in results] == ["REVOKED", "VALID"]

        status, municipalities = serve.call("GET", "/api/v1/registry/municipalities",
                                            role="registrar")
        assert status == 200
        issuer_accounts = {to_checksum_address(a["address"])
                           for m in municipalities for a in m["accounts"]}
    finally:
        serve.stop()

    # Nobody paid: every transaction priced 0, every sender (registrar and issuer accounts,
    # never funded) still at balance 0, and the base fee never rose above 0.
    head = int(rpc(node, "eth_blockNumber"), 16)
    senders: set[str] = set()
    created = 0
    for number in range(head + 1):
        block = rpc(node, "eth_getBlockByNumber", hex(number), True)
        assert int(block["baseFeePerGas"], 16) == 0
        for tx in block["transactions"]:
            receipt = rpc(node, "eth_getTransactionReceipt", tx["hash"])
            assert int(receipt["status"], 16) == 1
            assert int(tx["gasPrice"], 16) == 0 and int(receipt["effectiveGasPrice"], 16) == 0
            assert int(receipt["gasUsed"], 16) > 0
            created += receipt["contractAddress"] is not None
            senders.add(to_checksum_address(tx["from"]))
    assert created >= 2  # IssuerRegistry and DocumentRegistry deployed at price 0
    assert issuer_accounts and issuer_accounts <= senders
    for sender in senders:
        assert int(rpc(node, "eth_getBalance", sender, "latest"), 16) == 0
