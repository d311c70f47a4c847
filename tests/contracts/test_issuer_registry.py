"""IssuerRegistry: admission, document types, suspension, the account and signing-key lifecycles,
roles and views."""

from __future__ import annotations

import pytest
from contracts_world import (
    AACHEN_SIGNING_KEY,
    AACHEN_SIGNING_KEY_ID,
    AGS_AACHEN,
    AGS_GELSENKIRCHEN,
    AGS_KOELN,
    DEFAULT_ADMIN_ROLE,
    HUND,
    MUSIK,
    REGISTRAR_ROLE,
    WOHNUNG,
    World,
    deploy,
    signing_key,
)
from eth_utils.crypto import keccak

ZERO_ADDRESS = "0x" + "00" * 20
AGS_DUESSELDORF = b"05111000"
UNKNOWN, ACTIVE, RETIRED = 0, 1, 2


# -- deployment and roles -------------------------------------------------------------------------

def test_deployer_is_admin_and_registrar(world: World) -> None:
    reg = world.issuers.functions
    assert reg.REGISTRAR_ROLE().call() == REGISTRAR_ROLE == keccak(text="REGISTRAR_ROLE")
    assert reg.hasRole(DEFAULT_ADMIN_ROLE, world.admin).call()
    assert reg.hasRole(REGISTRAR_ROLE, world.admin).call()
    assert reg.getRoleAdmin(REGISTRAR_ROLE).call() == DEFAULT_ADMIN_ROLE
    assert not reg.hasRole(REGISTRAR_ROLE, world.admin_only).call()
    assert not reg.hasRole(REGISTRAR_ROLE, world.a1).call()


def test_supports_access_control_interfaces(world: World) -> None:
    reg = world.issuers.functions
    assert reg.supportsInterface(bytes.fromhex("01ffc9a7")).call()  # ERC-165
    assert reg.supportsInterface(bytes.fromhex("7965db0b")).call()  # IAccessControl
    assert not reg.supportsInterface(bytes.fromhex("ffffffff")).call()


def test_constructor_rejects_zero_admin(world: World) -> None:
    from govchain.adapters import artifacts

    art = artifacts.load("IssuerRegistry")
    factory = world.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    world.assert_reverts(factory.constructor(ZERO_ADDRESS), world.admin,
                         "IssuerRegistryInvalidAccount", ZERO_ADDRESS)


def test_admin_grants_and_revokes_registrar_role(world: World) -> None:
    reg = world.issuers.functions
    receipt = world.transact(reg.grantRole(REGISTRAR_ROLE, world.spare1), world.admin_only)
    assert world.events(receipt) == [
        ("RoleGranted", {"role": REGISTRAR_ROLE, "account": world.spare1,
                         "sender": world.admin_only}),
    ]
    world.transact(reg.admitMunicipality(AGS_DUESSELDORF, "Düsseldorf", [], []), world.spare1)

    receipt = world.transact(reg.revokeRole(REGISTRAR_ROLE, world.spare1), world.admin)
    assert world.events(receipt) == [
        ("RoleRevoked", {"role": REGISTRAR_ROLE, "account": world.spare1, "sender": world.admin}),
    ]
    world.assert_reverts(reg.suspendMunicipality(AGS_DUESSELDORF), world.spare1,
                         "AccessControlUnauthorizedAccount", world.spare1, REGISTRAR_ROLE)


def test_registrar_renounces_own_role_only(world: World) -> None:
    reg = world.issuers.functions
    world.assert_reverts(reg.renounceRole(REGISTRAR_ROLE, world.registrar), world.admin,
                         "AccessControlBadConfirmation")
    receipt = world.transact(reg.renounceRole(REGISTRAR_ROLE, world.registrar), world.registrar)
    assert world.events(receipt) == [
        ("RoleRevoked", {"role": REGISTRAR_ROLE, "account": world.registrar,
                         "sender": world.registrar}),
    ]
    assert not reg.hasRole(REGISTRAR_ROLE, world.registrar).call()


# -- admission ------------------------------------------------------------------------------------

def test_admit_municipality_stores_everything_and_emits_in_order(world: World) -> None:
    reg = world.issuers.functions
    receipt = world.transact(reg.admitMunicipality(
        AGS_DUESSELDORF, "Landeshauptstadt Düsseldorf", [world.spare1, world.spare2],
        [HUND, MUSIK, HUND]), world.registrar)
    ts = world.timestamp(receipt)

    assert world.events(receipt) == [
        ("MunicipalityAdmitted", {"ags": AGS_DUESSELDORF, "name": "Landeshauptstadt Düsseldorf"}),
        ("AccountAdded", {"ags": AGS_DUESSELDORF, "account": world.spare1}),
        ("AccountAdded", {"ags": AGS_DUESSELDORF, "account": world.spare2}),
        ("DocTypeAllowed", {"ags": AGS_DUESSELDORF, "docType": HUND}),
        ("DocTypeAllowed", {"ags": AGS_DUESSELDORF, "docType": MUSIK}),  # the repeat is a no-op
    ]
    assert reg.municipality(AGS_DUESSELDORF).call() == (
        "Landeshauptstadt Düsseldorf", True, True, ts)
    assert reg.accountsOf(AGS_DUESSELDORF).call() == [world.spare1, world.spare2]
    assert reg.docTypesOf(AGS_DUESSELDORF).call() == [HUND, MUSIK]
    assert reg.isDocTypeAllowed(AGS_DUESSELDORF, MUSIK).call()
    assert not reg.isDocTypeAllowed(AGS_DUESSELDORF, WOHNUNG).call()
    assert reg.issuerAccount(world.spare1).call() == (AGS_DUESSELDORF, ACTIVE, ts, 0, 0)
    assert reg.municipalities().call() == [AGS_AACHEN, AGS_GELSENKIRCHEN, AGS_KOELN,
                                           AGS_DUESSELDORF]


def test_admit_municipality_without_accounts_or_doc_types(world: World) -> None:
    receipt = world.transact(world.issuers.functions.admitMunicipality(
        AGS_DUESSELDORF, "Düsseldorf", [], []), world.admin)
    assert world.events(receipt) == [
        ("MunicipalityAdmitted", {"ags": AGS_DUESSELDORF, "name": "Düsseldorf"}),
    ]
    assert world.issuers.functions.docTypesOf(AGS_DUESSELDORF).call() == []


@pytest.mark.parametrize("ags", [
    b"0511100a", b"0511100 ", b"/5111000", b":5111000",
    b"\x00" * 8, b"\xff" * 8, b"\x00" + b"5" * 7,
])
def test_admit_rejects_an_ags_that_is_not_8_digits(world: World, ags: bytes) -> None:
    world.assert_reverts(world.issuers.functions.admitMunicipality(ags, "X", [], []), world.admin,
                         "IssuerRegistryInvalidAgs", ags)


@pytest.mark.parametrize("ags", [b"00000000", b"99999999", b"05111000"])
def test_admit_accepts_every_8_digit_ags(world: World, ags: bytes) -> None:
    world.transact(world.issuers.functions.admitMunicipality(ags, "X", [], []), world.admin)
    assert world.issuers.functions.municipality(ags).call()[1]


def test_admit_rejects_existing_municipality_and_empty_name(world: World) -> None:
    reg = world.issuers.functions
    world.assert_reverts(reg.admitMunicipality(AGS_AACHEN, "Aachen again", [], []), world.admin,
                         "IssuerRegistryMunicipalityExists", AGS_AACHEN)
    world.assert_reverts(reg.admitMunicipality(AGS_DUESSELDORF, "", [], []), world.admin,
                         "IssuerRegistryEmptyName")


@pytest.mark.parametrize(("role", "error"), [
    ("a1", "IssuerRegistryAccountExists"),       # active in another municipality: never moved
    ("retired", "IssuerRegistryAccountExists"),  # retired: never reused
    ("compromised", "IssuerRegistryAccountExists"),
])
def test_admit_rejects_accounts_that_belong_to_a_municipality(world: World, role: str,
                                                               error: str) -> None:
    account = world.accounts[role]
    world.assert_reverts(world.issuers.functions.admitMunicipality(
        AGS_DUESSELDORF, "Düsseldorf", [world.spare1, account], []), world.admin, error, account)


def test_admit_rejects_zero_and_repeated_accounts(world: World) -> None:
    reg = world.issuers.functions
    world.assert_reverts(reg.admitMunicipality(AGS_DUESSELDORF, "Düsseldorf", [ZERO_ADDRESS], []),
                         world.admin, "IssuerRegistryInvalidAccount", ZERO_ADDRESS)
    world.assert_reverts(
        reg.admitMunicipality(AGS_DUESSELDORF, "Düsseldorf", [world.spare1, world.spare1], []),
        world.admin, "IssuerRegistryAccountExists", world.spare1)


# -- document types -------------------------------------------------------------------------------

def test_set_doc_types_emits_one_event_per_change(world: World) -> None:
    reg = world.issuers.functions
    other = keccak(text="sondernutzung")
    receipt = world.transact(reg.setDocTypes(AGS_AACHEN, [HUND, other]), world.registrar)
    assert world.events(receipt) == [
        ("DocTypeDisallowed", {"ags": AGS_AACHEN, "docType": WOHNUNG}),
        ("DocTypeDisallowed", {"ags": AGS_AACHEN, "docType": MUSIK}),
        ("DocTypeAllowed", {"ags": AGS_AACHEN, "docType": other}),
    ]
    assert sorted(reg.docTypesOf(AGS_AACHEN).call()) == sorted([HUND, other])
    assert not reg.isDocTypeAllowed(AGS_AACHEN, MUSIK).call()

    # the same set again changes nothing
    receipt = world.transact(reg.setDocTypes(AGS_AACHEN, [other, HUND]), world.admin)
    assert world.events(receipt) == []
    # the empty set takes every type away
    receipt = world.transact(reg.setDocTypes(AGS_AACHEN, []), world.admin)
    assert {e[1]["docType"] for e in world.events(receipt)} == {HUND, other}
    assert reg.docTypesOf(AGS_AACHEN).call() == []


def test_set_doc_types_of_unknown_municipality(world: World) -> None:
    world.assert_reverts(world.issuers.functions.setDocTypes(AGS_DUESSELDORF, [HUND]), world.admin,
                         "IssuerRegistryUnknownMunicipality", AGS_DUESSELDORF)


def test_disallowed_doc_type_stops_anchoring_but_not_old_anchors(world: World) -> None:
    world.transact(world.issuers.functions.setDocTypes(AGS_AACHEN, [WOHNUNG]), world.admin)
    world.assert_reverts(world.documents.functions.anchor(HUND, [keccak(text="new")]), world.a1,
                         "IssuerRegistryDocTypeNotAllowed", AGS_AACHEN, HUND)
    batch = world.batches["aachen"]
    v = world.documents.functions.verification(batch.root, batch.target_hashes[0]).call()
    assert v[0] is True and v[7] == HUND
    assert v[12] is False  # docTypeAllowedNow: for the verifier to weigh, the anchor stands


# -- suspension -----------------------------------------------------------------------------------

def test_suspend_and_reactivate_municipality(world: World) -> None:
    reg = world.issuers.functions
    receipt = world.transact(reg.suspendMunicipality(AGS_AACHEN), world.registrar)
    assert world.events(receipt) == [("MunicipalitySuspended", {"ags": AGS_AACHEN})]
    assert reg.municipality(AGS_AACHEN).call()[1:3] == (True, False)
    world.assert_reverts(reg.suspendMunicipality(AGS_AACHEN), world.admin,
                         "IssuerRegistryMunicipalityNotActive", AGS_AACHEN)
    world.assert_reverts(world.documents.functions.anchor(HUND, [keccak(text="new")]), world.a1,
                         "IssuerRegistryMunicipalityNotActive", AGS_AACHEN)

    receipt = world.transact(reg.reactivateMunicipality(AGS_AACHEN), world.registrar)
    assert world.events(receipt) == [("MunicipalityReactivated", {"ags": AGS_AACHEN})]
    assert reg.municipality(AGS_AACHEN).call()[2] is True
    world.assert_reverts(reg.reactivateMunicipality(AGS_AACHEN), world.admin,
                         "IssuerRegistryMunicipalityAlreadyActive", AGS_AACHEN)
    world.transact(world.documents.functions.anchor(HUND, [keccak(text="new")]), world.a1)


@pytest.mark.parametrize("fn", ["suspendMunicipality", "reactivateMunicipality"])
def test_suspend_or_reactivate_unknown_municipality(world: World, fn: str) -> None:
    world.assert_reverts(world.issuers.functions[fn](AGS_DUESSELDORF), world.admin,
                         "IssuerRegistryUnknownMunicipality", AGS_DUESSELDORF)


# -- accounts -------------------------------------------------------------------------------------

def test_add_account(world: World) -> None:
    reg = world.issuers.functions
    receipt = world.transact(reg.addAccount(AGS_AACHEN, world.spare1), world.registrar)
    assert world.events(receipt) == [
        ("AccountAdded", {"ags": AGS_AACHEN, "account": world.spare1}),
    ]
    assert reg.issuerAccount(world.spare1).call() == (
        AGS_AACHEN, ACTIVE, world.timestamp(receipt), 0, 0)
    assert reg.accountsOf(AGS_AACHEN).call()[-1] == world.spare1
    world.transact(world.documents.functions.anchor(MUSIK, [keccak(text="new")]), world.spare1)


def test_add_account_to_a_suspended_municipality(world: World) -> None:
    world.transact(world.issuers.functions.addAccount(AGS_KOELN, world.spare1), world.admin)
    assert world.issuers.functions.authorizeStatusChange(world.spare1).call() == AGS_KOELN


def test_add_account_rejections(world: World) -> None:
    reg = world.issuers.functions
    world.assert_reverts(reg.addAccount(AGS_DUESSELDORF, world.spare1), world.admin,
                         "IssuerRegistryUnknownMunicipality", AGS_DUESSELDORF)
    world.assert_reverts(reg.addAccount(AGS_AACHEN, ZERO_ADDRESS), world.admin,
                         "IssuerRegistryInvalidAccount", ZERO_ADDRESS)
    for taken in (world.g1, world.a1, world.retired):  # an account is never moved or reused
        world.assert_reverts(reg.addAccount(AGS_AACHEN, taken), world.admin,
                             "IssuerRegistryAccountExists", taken)


def test_retire_account(world: World) -> None:
    reg = world.issuers.functions
    receipt = world.transact(reg.retireAccount(world.a2), world.registrar)
    assert world.events(receipt) == [
        ("AccountRetired", {"ags": AGS_AACHEN, "account": world.a2}),
    ]
    acc = reg.issuerAccount(world.a2).call()
    assert acc[1] == RETIRED and acc[3] == world.timestamp(receipt) and acc[4] == 0
    assert world.a2 in reg.accountsOf(AGS_AACHEN).call()  # history is kept
    world.assert_reverts(reg.retireAccount(world.a2), world.admin,
                         "IssuerRegistryAccountRetired", world.a2)
    world.assert_reverts(reg.retireAccount(world.stranger), world.admin,
                         "IssuerRegistryUnknownAccount", world.stranger)


def test_mark_compromised_only_moves_earlier(world: World) -> None:
    reg = world.issuers.functions
    now = int(world.w3.eth.get_block("latest")["timestamp"])
    receipt = world.transact(reg.markCompromised(world.a2, now - 100), world.registrar)
    assert world.events(receipt) == [
        ("AccountCompromised", {"ags": AGS_AACHEN, "account": world.a2, "since": now - 100}),
    ]
    acc = reg.issuerAccount(world.a2).call()
    assert (acc[1], acc[3], acc[4]) == (ACTIVE, 0, now - 100)
    for later_or_same in (now - 100, now - 50):
        world.assert_reverts(reg.markCompromised(world.a2, later_or_same), world.admin,
                             "IssuerRegistryInvalidCompromiseTime", later_or_same)
    receipt = world.transact(reg.markCompromised(world.a2, now - 500), world.admin)
    assert world.events(receipt)[0][1]["since"] == now - 500
    assert reg.issuerAccount(world.a2).call()[4] == now - 500


def test_mark_compromised_rejects_zero_future_and_unknown(world: World) -> None:
    reg = world.issuers.functions
    far = 2**48 - 1
    for since in (0, far):
        world.assert_reverts(reg.markCompromised(world.a2, since), world.admin,
                             "IssuerRegistryInvalidCompromiseTime", since)
    world.assert_reverts(reg.markCompromised(world.stranger, 1), world.admin,
                         "IssuerRegistryUnknownAccount", world.stranger)


def test_a_retired_account_can_be_marked_compromised(world: World) -> None:
    reg = world.issuers.functions
    retired_at = reg.issuerAccount(world.retired).call()[3]
    world.transact(reg.markCompromised(world.retired, retired_at - 3600), world.admin)
    acc = reg.issuerAccount(world.retired).call()
    assert acc[1] == RETIRED and acc[3] == retired_at and acc[4] == retired_at - 3600
    # compromise is the graver fact and is reported first
    world.assert_reverts(reg.authorizeStatusChange(world.retired), world.admin,
                         "IssuerRegistryAccountCompromised", world.retired, retired_at - 3600)


# -- signing keys ---------------------------------------------------------------------------------

def test_add_signing_key(world: World) -> None:
    reg = world.issuers.functions
    key = signing_key("aachen/signing-key/2", 0x03)
    key_id = keccak(key)
    assert reg.addSigningKey(AGS_AACHEN, key).call({"from": world.registrar}) == key_id
    receipt = world.transact(reg.addSigningKey(AGS_AACHEN, key), world.registrar)
    assert world.events(receipt) == [
        ("SigningKeyAdded", {"ags": AGS_AACHEN, "keyId": key_id, "publicKey": key}),
    ]
    assert reg.signingKey(key_id).call() == (AGS_AACHEN, ACTIVE, world.timestamp(receipt), 0, 0, key)
    assert reg.signingKeysOf(AGS_AACHEN).call() == [AACHEN_SIGNING_KEY_ID, key_id]
    # signing keys are no issuer accounts: nothing else changed
    assert reg.accountsOf(AGS_AACHEN).call() == [world.a1, world.a2, world.retired,
                                                 world.compromised]
    assert reg.signingKeysOf(AGS_GELSENKIRCHEN).call() == []


def test_add_signing_key_to_a_suspended_municipality(world: World) -> None:
    reg = world.issuers.functions
    key = signing_key("koeln/signing-key/1")
    world.transact(reg.addSigningKey(AGS_KOELN, key), world.admin)
    assert reg.signingKeysOf(AGS_KOELN).call() == [keccak(key)]
    assert reg.signingKey(keccak(key)).call()[:2] == (AGS_KOELN, ACTIVE)


def test_signing_keys_are_listed_per_municipality_in_order_of_addition(world: World) -> None:
    reg = world.issuers.functions
    added: dict[bytes, list[bytes]] = {AGS_AACHEN: [AACHEN_SIGNING_KEY_ID], AGS_GELSENKIRCHEN: []}
    for i, ags in enumerate([AGS_GELSENKIRCHEN, AGS_AACHEN, AGS_GELSENKIRCHEN, AGS_GELSENKIRCHEN]):
        key = signing_key(f"key/{i}", 0x02 + i % 2)
        world.transact(reg.addSigningKey(ags, key), world.registrar)
        added[ags].append(keccak(key))
    world.transact(reg.retireSigningKey(added[AGS_GELSENKIRCHEN][0]), world.registrar)
    for ags, ids in added.items():
        assert reg.signingKeysOf(ags).call() == ids  # retired keys stay in the list
        assert {reg.signingKey(i).call()[0] for i in ids} == {ags}


def test_add_signing_key_of_unknown_municipality(world: World) -> None:
    reg = world.issuers.functions
    for ags in (AGS_DUESSELDORF, b"\x00" * 8, b"notdigit"):
        world.assert_reverts(reg.addSigningKey(ags, signing_key("x")), world.admin,
                             "IssuerRegistryUnknownMunicipality", ags)
    # the municipality is checked before the key
    world.assert_reverts(reg.addSigningKey(AGS_DUESSELDORF, b""), world.admin,
                         "IssuerRegistryUnknownMunicipality", AGS_DUESSELDORF)


@pytest.mark.parametrize("public_key", [
    b"",
    b"\x02",
    signing_key("short")[:32],
    signing_key("long") + b"\x00",
    b"\x04" + keccak(text="x") + keccak(text="y"),  # uncompressed SEC1 (65 bytes)
    *(bytes([prefix]) + keccak(text="prefix") for prefix in (0x00, 0x01, 0x04, 0x05, 0x12, 0xFF)),
], ids=["empty", "prefix-only", "32-bytes", "34-bytes", "uncompressed",
        "prefix-00", "prefix-01", "prefix-04", "prefix-05", "prefix-12", "prefix-ff"])
def test_add_signing_key_rejects_what_is_no_compressed_point(world: World,
                                                              public_key: bytes) -> None:
    world.assert_reverts(world.issuers.functions.addSigningKey(AGS_AACHEN, public_key),
                         world.admin, "IssuerRegistryInvalidSigningKey", public_key)


def test_a_signing_key_is_added_once_for_ever(world: World) -> None:
    reg = world.issuers.functions
    for ags in (AGS_AACHEN, AGS_GELSENKIRCHEN):  # neither again nor to another municipality
        world.assert_reverts(reg.addSigningKey(ags, AACHEN_SIGNING_KEY), world.admin,
                             "IssuerRegistrySigningKeyExists", AACHEN_SIGNING_KEY_ID)
    world.transact(reg.retireSigningKey(AACHEN_SIGNING_KEY_ID), world.admin)
    world.assert_reverts(reg.addSigningKey(AGS_AACHEN, AACHEN_SIGNING_KEY), world.admin,
                         "IssuerRegistrySigningKeyExists", AACHEN_SIGNING_KEY_ID)
    assert reg.signingKeysOf(AGS_AACHEN).call() == [AACHEN_SIGNING_KEY_ID]


def test_retire_signing_key(world: World) -> None:
    reg = world.issuers.functions
    added_at = reg.signingKey(AACHEN_SIGNING_KEY_ID).call()[2]
    receipt = world.transact(reg.retireSigningKey(AACHEN_SIGNING_KEY_ID), world.registrar)
    assert world.events(receipt) == [
        ("SigningKeyRetired", {"ags": AGS_AACHEN, "keyId": AACHEN_SIGNING_KEY_ID}),
    ]
    assert reg.signingKey(AACHEN_SIGNING_KEY_ID).call() == (
        AGS_AACHEN, RETIRED, added_at, world.timestamp(receipt), 0, AACHEN_SIGNING_KEY)
    world.assert_reverts(reg.retireSigningKey(AACHEN_SIGNING_KEY_ID), world.admin,
                         "IssuerRegistrySigningKeyRetired", AACHEN_SIGNING_KEY_ID)
    for unknown in (keccak(signing_key("never added")), b"\x00" * 32):
        world.assert_reverts(reg.retireSigningKey(unknown), world.admin,
                             "IssuerRegistryUnknownSigningKey", unknown)


def test_mark_signing_key_compromised_only_moves_earlier(world: World) -> None:
    reg = world.issuers.functions
    now = int(world.w3.eth.get_block("latest")["timestamp"])
    receipt = world.transact(reg.markSigningKeyCompromised(AACHEN_SIGNING_KEY_ID, now - 100),
                             world.registrar)
    assert world.events(receipt) == [
        ("SigningKeyCompromised", {"ags": AGS_AACHEN, "keyId": AACHEN_SIGNING_KEY_ID,
                                   "since": now - 100}),
    ]
    key = reg.signingKey(AACHEN_SIGNING_KEY_ID).call()
    assert (key[1], key[3], key[4]) == (ACTIVE, 0, now - 100)
    for later_or_same in (now - 100, now - 50):
        world.assert_reverts(reg.markSigningKeyCompromised(AACHEN_SIGNING_KEY_ID, later_or_same),
                             world.admin, "IssuerRegistryInvalidCompromiseTime", later_or_same)
    receipt = world.transact(reg.markSigningKeyCompromised(AACHEN_SIGNING_KEY_ID, now - 500),
                             world.admin)
    assert world.events(receipt)[0][1]["since"] == now - 500
    assert reg.signingKey(AACHEN_SIGNING_KEY_ID).call()[4] == now - 500


def test_mark_signing_key_compromised_rejects_zero_future_and_unknown(world: World) -> None:
    reg = world.issuers.functions
    now = int(world.w3.eth.get_block("latest")["timestamp"])
    for since in (0, now + 3600, 2**48 - 1):
        world.assert_reverts(reg.markSigningKeyCompromised(AACHEN_SIGNING_KEY_ID, since),
                             world.admin, "IssuerRegistryInvalidCompromiseTime", since)
    unknown = keccak(signing_key("never added"))
    world.assert_reverts(reg.markSigningKeyCompromised(unknown, 1), world.admin,
                         "IssuerRegistryUnknownSigningKey", unknown)
    assert reg.signingKey(AACHEN_SIGNING_KEY_ID).call()[4] == 0


def test_a_retired_signing_key_can_be_marked_compromised(world: World) -> None:
    reg = world.issuers.functions
    receipt = world.transact(reg.retireSigningKey(AACHEN_SIGNING_KEY_ID), world.admin)
    retired_at = world.timestamp(receipt)
    world.transact(reg.markSigningKeyCompromised(AACHEN_SIGNING_KEY_ID, retired_at - 3600),
                   world.admin)
    key = reg.signingKey(AACHEN_SIGNING_KEY_ID).call()
    assert key[1] == RETIRED and key[3:5] == (retired_at, retired_at - 3600)


def test_signing_keys_do_not_touch_accounts_or_anchoring(world: World) -> None:
    reg = world.issuers.functions
    world.transact(reg.markSigningKeyCompromised(AACHEN_SIGNING_KEY_ID, world.compromised_since),
                   world.admin)
    world.transact(reg.retireSigningKey(AACHEN_SIGNING_KEY_ID), world.admin)
    assert reg.authorizeAnchor(world.a1, HUND).call() == AGS_AACHEN
    world.transact(world.documents.functions.anchor(HUND, [keccak(text="after the key")]), world.a1)


# -- authorisation checks used by the document registry -------------------------------------------

def test_authorize_anchor_returns_the_municipality(world: World) -> None:
    reg = world.issuers.functions
    assert reg.authorizeAnchor(world.a1, HUND).call() == AGS_AACHEN
    assert reg.authorizeAnchor(world.g1, WOHNUNG).call() == AGS_GELSENKIRCHEN
    assert reg.authorizeStatusChange(world.a2).call() == AGS_AACHEN
    assert reg.authorizeStatusChange(world.k1).call() == AGS_KOELN  # suspended may still revoke


@pytest.mark.parametrize(("role", "doc_type", "error", "args"), [
    ("stranger", HUND, "IssuerRegistryUnknownAccount", ("stranger",)),
    ("admin", HUND, "IssuerRegistryUnknownAccount", ("admin",)),
    ("retired", HUND, "IssuerRegistryAccountRetired", ("retired",)),
    ("compromised", HUND, "IssuerRegistryAccountCompromised", ("compromised", "since")),
    ("k1", WOHNUNG, "IssuerRegistryMunicipalityNotActive", (AGS_KOELN,)),
    ("g1", MUSIK, "IssuerRegistryDocTypeNotAllowed", (AGS_GELSENKIRCHEN, MUSIK)),
])
def test_authorize_anchor_reasons(world: World, role: str, doc_type: bytes, error: str,
                                  args: tuple[object, ...]) -> None:
    special = {**world.accounts, "since": world.compromised_since}
    resolved = [special.get(a, a) if isinstance(a, str) else a for a in args]
    world.assert_reverts(world.issuers.functions.authorizeAnchor(world.accounts[role], doc_type),
                         world.stranger, error, *resolved)


@pytest.mark.parametrize(("role", "error", "with_since"), [
    ("stranger", "IssuerRegistryUnknownAccount", False),
    ("retired", "IssuerRegistryAccountRetired", False),
    ("compromised", "IssuerRegistryAccountCompromised", True),
])
def test_authorize_status_change_reasons(world: World, role: str, error: str,
                                         with_since: bool) -> None:
    account = world.accounts[role]
    args = (account, world.compromised_since) if with_since else (account,)
    world.assert_reverts(world.issuers.functions.authorizeStatusChange(account), world.stranger,
                         error, *args)


# -- views never revert ---------------------------------------------------------------------------

def test_views_answer_for_unknown_keys(world: World) -> None:
    reg = world.issuers.functions
    for ags in (AGS_DUESSELDORF, b"\x00" * 8, b"notdigit"):
        assert reg.municipality(ags).call() == ("", False, False, 0)
        assert reg.accountsOf(ags).call() == []
        assert reg.docTypesOf(ags).call() == []
        assert reg.isDocTypeAllowed(ags, HUND).call() is False
    for account in (world.stranger, ZERO_ADDRESS, world.admin):
        assert reg.issuerAccount(account).call() == (b"\x00" * 8, UNKNOWN, 0, 0, 0)
    for ags in (AGS_DUESSELDORF, AGS_GELSENKIRCHEN, b"\x00" * 8, b"notdigit"):
        assert reg.signingKeysOf(ags).call() == []
    # never added, the zero id, an account's address as id, the public key itself instead of its id
    for key_id in (keccak(signing_key("never added")), b"\x00" * 32,
                   bytes(12) + bytes.fromhex(world.a1[2:]), AACHEN_SIGNING_KEY[1:]):
        assert reg.signingKey(key_id).call() == (b"\x00" * 8, UNKNOWN, 0, 0, 0, b"")


def test_baseline_views(world: World) -> None:
    reg = world.issuers.functions
    assert reg.municipalities().call() == [AGS_AACHEN, AGS_GELSENKIRCHEN, AGS_KOELN]
    assert reg.municipality(AGS_KOELN).call()[:3] == ("Stadt Köln", True, False)
    assert reg.accountsOf(AGS_AACHEN).call() == [world.a1, world.a2, world.retired,
                                                 world.compromised]
    assert reg.docTypesOf(AGS_AACHEN).call() == [WOHNUNG, HUND, MUSIK]
    assert reg.issuerAccount(world.compromised).call()[4] == world.compromised_since
    assert reg.signingKeysOf(AGS_AACHEN).call() == [AACHEN_SIGNING_KEY_ID]
    key = reg.signingKey(AACHEN_SIGNING_KEY_ID).call()
    assert key[:2] == (AGS_AACHEN, ACTIVE) and key[3:] == (0, 0, AACHEN_SIGNING_KEY)


def test_issuer_registry_deploys_fresh(world: World) -> None:
    fresh = deploy(world.w3, world.stranger, "IssuerRegistry", world.spare1)
    assert fresh.functions.hasRole(REGISTRAR_ROLE, world.spare1).call()
    assert not fresh.functions.hasRole(REGISTRAR_ROLE, world.stranger).call()
    assert fresh.functions.municipalities().call() == []
