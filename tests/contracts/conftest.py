"""Contract tests on a real EVM: eth-tester's py-evm backend, the committed artifacts, web3.

One chain per test session holds both contracts and a small baseline (three municipalities, issuer
accounts in every state, one anchored batch per active and per suspended municipality, one signing key
of Aachen). Every test
starts from a snapshot of that baseline and is rolled back afterwards, so tests are independent and
fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from contracts_world import (
    AACHEN_SIGNING_KEY,
    AGS_AACHEN,
    AGS_GELSENKIRCHEN,
    AGS_KOELN,
    DEFAULT_ADMIN_ROLE,
    HUND,
    MUSIK,
    REASON_INQUIRY,
    REGISTRAR_ROLE,
    WOHNUNG,
    World,
    deploy,
)
from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

ROLES: Sequence[str] = (
    "admin",        # deployer: DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE
    "registrar",    # REGISTRAR_ROLE only
    "admin_only",   # DEFAULT_ADMIN_ROLE only
    "a1",           # Aachen, active; anchored batch "aachen"
    "a2",           # Aachen, active
    "retired",      # Aachen, retired
    "compromised",  # Aachen, marked compromised
    "g1",           # Gelsenkirchen, active (may not issue street-music permits)
    "k1",           # Köln, active, but Köln is suspended; anchored batch "koeln" before that
    "stranger",     # no role, no municipality
    "spare1",       # unused: for new accounts
    "spare2",
)


@pytest.fixture(scope="session")
def _baseline() -> World:
    genesis = PyEVMBackend.generate_genesis_state(num_accounts=len(ROLES))
    backend = PyEVMBackend(genesis_state=genesis)
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))
    accounts = dict(zip(ROLES, w3.eth.accounts, strict=True))
    admin = accounts["admin"]
    issuers = deploy(w3, admin, "IssuerRegistry", admin)
    documents = deploy(w3, admin, "DocumentRegistry", issuers.address)
    world = World(tester, w3, issuers, documents, accounts)

    reg = issuers.functions
    world.transact(reg.grantRole(REGISTRAR_ROLE, accounts["registrar"]), admin)
    world.transact(reg.grantRole(DEFAULT_ADMIN_ROLE, accounts["admin_only"]), admin)
    world.transact(reg.admitMunicipality(
        AGS_AACHEN, "Stadt Aachen",
        [accounts["a1"], accounts["a2"], accounts["retired"], accounts["compromised"]],
        [WOHNUNG, HUND, MUSIK]), admin)
    world.transact(reg.admitMunicipality(
        AGS_GELSENKIRCHEN, "Stadt Gelsenkirchen", [accounts["g1"]], [WOHNUNG, HUND]), admin)
    world.transact(reg.admitMunicipality(
        AGS_KOELN, "Stadt Köln", [accounts["k1"]], [WOHNUNG, MUSIK]), admin)

    world.batches["aachen"], _ = world.anchor(accounts["a1"], HUND, "aachen", 5)
    world.batches["koeln"], _ = world.anchor(accounts["k1"], WOHNUNG, "koeln", 3)
    # document 1 of the Aachen batch is suspended, so that reinstate has something to lift
    world.transact(world.status_change("suspend", world.batches["aachen"], 1, REASON_INQUIRY),
                   accounts["a1"])

    world.transact(reg.suspendMunicipality(AGS_KOELN), admin)
    world.transact(reg.retireAccount(accounts["retired"]), admin)
    latest = int(w3.eth.get_block("latest")["timestamp"])
    world.compromised_since = latest
    world.transact(reg.markCompromised(accounts["compromised"], latest), admin)
    world.transact(reg.addSigningKey(AGS_AACHEN, AACHEN_SIGNING_KEY), admin)
    return world


@pytest.fixture
def world(_baseline: World) -> Iterator[World]:
    snapshot = _baseline.tester.take_snapshot()
    yield _baseline
    _baseline.tester.revert_to_snapshot(snapshot)
