"""Signing keys as values: their id, and whether a proof made at a given time may use them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_utils.crypto import keccak as eth_keccak
from hypothesis import given
from hypothesis import strategies as st

from govchain.domain.ledger_view import (
    AccountState,
    SigningKey,
    signing_key_id,
    signing_key_usable_at,
)
from govchain.domain.timefmt import de_unix

ADDED = 1_750_000_000
RETIRED = ADDED + 86_400
COMPROMISED = ADDED + 3_600
PUBLIC_KEY = bytes([0x02]) + bytes(range(32))

UNKNOWN_REASON = "Schlüssel ist im Register unbekannt"
TOO_EARLY = "Schlüssel erst nach der Signatur registriert"
RETIRED_REASON = "Schlüssel war zur Signaturzeit bereits stillgelegt"


def key(*, state: AccountState = AccountState.ACTIVE, added_at: int = ADDED, retired_at: int = 0,
        compromised_since: int = 0) -> SigningKey:
    return SigningKey(key_id=signing_key_id(PUBLIC_KEY), ags="05334002", state=state,
                      added_at=added_at, retired_at=retired_at,
                      compromised_since=compromised_since, public_key=PUBLIC_KEY)


def compromised_reason(since: int) -> str:
    return f"Schlüssel gilt seit {de_unix(since)} als kompromittiert"


# -- the id -----------------------------------------------------------------------------------------

def test_the_id_is_keccak_of_the_compressed_point() -> None:
    public = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.CompressedPoint)
    assert len(public) == 33 and public[0] in (2, 3)
    assert signing_key_id(public) == eth_keccak(public)
    assert len(signing_key_id(public)) == 32
    assert signing_key_id(PUBLIC_KEY) != signing_key_id(bytes([0x03]) + PUBLIC_KEY[1:])


def test_signing_key_is_a_frozen_value() -> None:
    k = key()
    with pytest.raises(AttributeError):
        k.state = AccountState.RETIRED  # type: ignore[misc]
    assert k == key() and hash(k) == hash(key())


# -- usable at a time -------------------------------------------------------------------------------

@pytest.mark.parametrize("t", [ADDED, ADDED + 1, RETIRED - 1, 2**48 - 1])
def test_an_active_key_signs_from_its_registration_on(t: int) -> None:
    assert signing_key_usable_at(key(), t) is None


@pytest.mark.parametrize("t", [0, ADDED - 86_400, ADDED - 1])
def test_a_proof_older_than_the_registration_is_refused(t: int) -> None:
    assert signing_key_usable_at(key(), t) == TOO_EARLY


@pytest.mark.parametrize(("t", "reason"), [
    (ADDED, None),
    (RETIRED - 1, None),
    (RETIRED, None),  # the second of retirement: signed as it was retired (whole seconds)
    (RETIRED + 1, RETIRED_REASON),  # nothing after R
])
def test_a_retired_key_keeps_what_it_signed_before(t: int, reason: str | None) -> None:
    retired = key(state=AccountState.RETIRED, retired_at=RETIRED)
    assert signing_key_usable_at(retired, t) == reason


@pytest.mark.parametrize(("t", "ok"), [
    (ADDED, True),
    (COMPROMISED - 1, True),
    (COMPROMISED, False),  # compromised since C: nothing from C on
    (COMPROMISED + 1, False),
    (RETIRED + 1, False),
])
def test_a_compromised_key_keeps_what_it_signed_before(t: int, ok: bool) -> None:
    compromised = key(compromised_since=COMPROMISED)
    assert signing_key_usable_at(compromised, t) == (None if ok else
                                                     compromised_reason(COMPROMISED))


def test_the_reason_names_the_compromise_time_in_berlin_time() -> None:
    reason = signing_key_usable_at(key(compromised_since=COMPROMISED), COMPROMISED)
    assert reason == "Schlüssel gilt seit 15.06.2025, 18:06 Uhr als kompromittiert"


def test_a_compromise_time_past_what_a_date_can_show_still_gives_a_reason() -> None:
    far = 2**48 - 1  # the largest uint48: the contract refuses future times, the type does not
    assert signing_key_usable_at(key(compromised_since=far), far) == (
        f"Schlüssel gilt seit Unix-Zeit {far} als kompromittiert")
    assert signing_key_usable_at(key(compromised_since=far), far - 1) is None


def test_compromise_is_named_before_retirement_and_registration() -> None:
    # A retired key found later to have leaked before its retirement: a proof between the leak
    # and the retirement is refused for the leak; one after both names the leak too.
    leaked = key(state=AccountState.RETIRED, retired_at=RETIRED, compromised_since=COMPROMISED)
    assert signing_key_usable_at(leaked, COMPROMISED - 1) is None
    assert signing_key_usable_at(leaked, COMPROMISED) == compromised_reason(COMPROMISED)
    assert signing_key_usable_at(leaked, RETIRED + 1) == compromised_reason(COMPROMISED)
    # a compromise dated before the registration covers proofs claiming to be older, too
    early = key(compromised_since=ADDED - 100)
    assert signing_key_usable_at(early, ADDED - 50) == compromised_reason(ADDED - 100)
    assert signing_key_usable_at(early, ADDED - 101) == TOO_EARLY


def test_an_unknown_key_signs_nothing() -> None:
    unknown = SigningKey(key_id=bytes(32), ags="", state=AccountState.UNKNOWN, added_at=0,
                         retired_at=0, compromised_since=0, public_key=b"")
    for t in (0, ADDED, 2**48 - 1):
        assert signing_key_usable_at(unknown, t) == UNKNOWN_REASON
    # the state decides, not the dates
    assert signing_key_usable_at(replace(key(), state=AccountState.UNKNOWN), ADDED) == UNKNOWN_REASON


@given(added=st.integers(1, 2**48 - 1), retired=st.integers(0, 2**48 - 1),
       compromised=st.integers(0, 2**48 - 1), t=st.integers(0, 2**48 - 1))
def test_usable_exactly_inside_the_window(added: int, retired: int, compromised: int,
                                          t: int) -> None:
    k = key(state=AccountState.RETIRED if retired else AccountState.ACTIVE, added_at=added,
            retired_at=retired, compromised_since=compromised)
    inside = (added <= t and (retired == 0 or t <= retired)
              and (compromised == 0 or t < compromised))
    assert (signing_key_usable_at(k, t) is None) == inside
