"""Verification of a presented document: integrity, anchoring, issuer, status, validity.

Each check has its own outcome and German message; the overall status follows from them. When the
ledger cannot be reached the answer is UNVERIFIABLE, never VALID and never INVALID. Each message
also has a code and its params, from which the pages say it in their language (the web locales'
`checkmsg.<code>`, German there word for word as here; a test keeps the two alike).

One module (≈440 lines) on purpose: the five checks are one `_Verifier`, each check reading what
the earlier ones found (the parsed proof, the ledger's answer), in the order that decides the
overall status; split apart they would pass that state around.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from govchain.domain import schedule
from govchain.domain.data_integrity import public_key_from_bytes, verify_proof
from govchain.domain.did import ags_of_did, key_id_of_method
from govchain.domain.documents import (
    check_presented,
    declaration_evidence_of,
    parse_proof,
    recompute_target_hash,
    split_proof_set,
    usecase_id_of,
)
from govchain.domain.ledger_view import (
    Deployment,
    DocumentStatus,
    LedgerReader,
    OnChainVerification,
    SigningKey,
    signing_key_usable_at,
)
from govchain.domain.merkle import root_of
from govchain.domain.pointers import hiding_placeholders, resolve_pointer
from govchain.domain.timefmt import de, de_unix, from_unix, now, parse_time
from govchain.domain.usecases import UseCase, UseCaseRegistry
from govchain.errors import InputError, LedgerUnavailableError, UnknownUseCaseError


class Status(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    UNVERIFIABLE = "UNVERIFIABLE"


class CheckStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class Check:
    """One check's outcome. `message` is German (API, command line, stored results); `code` and
    `params` say the same as data, for other languages: plain JSON values, points in time as
    ISO 8601 strings, texts of a use case as {"de": …, "en": …}, a status reason as its number.
    Results stored before codes existed have none."""

    name: str
    status: CheckStatus
    message: str
    code: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VerificationResult:
    status: Status
    checks: tuple[Check, ...]
    checked_at: str
    document_id: str | None = None
    usecase: str | None = None
    issuer: dict[str, str] | None = None  # name and AGS as the ledger knows them
    anchored_at: str | None = None
    anchor_block: int | None = None
    ledger_block: int | None = None
    status_reason: str | None = None
    schedule: dict[str, Any] | None = None
    # For a third party's declaration (declaration_of): who declared, submitted, received it.
    declaration: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.status is Status.VALID

    @property
    def ledger_unreachable(self) -> bool:
        """UNVERIFIABLE because the ledger cannot be asked now: worth asking again later (HTTP
        503). A type unknown here or another ledger's document is no outage (200)."""
        return (self.status is Status.UNVERIFIABLE
                and self.details.get("unverifiable", UNVERIFIABLE_LEDGER_DOWN)
                == UNVERIFIABLE_LEDGER_DOWN)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["checks"] = [{"name": c.name, "status": str(c.status), "message": c.message,
                           "code": c.code, "params": dict(c.params)} for c in self.checks]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VerificationResult:
        """The result `to_json` wrote (e.g. kept in the database), other members ignored."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["status"] = Status(data["status"])
        values["checks"] = tuple(Check(c["name"], CheckStatus(c["status"]), c["message"],
                                       c.get("code"), dict(c.get("params") or {}))
                                 for c in data["checks"])
        return cls(**values)


REASONS: dict[int, tuple[str, str]] = {
    0: ("ohne Angabe", "unspecified"),
    1: ("Fehler im Dokument", "error in the document"),
    2: ("Voraussetzungen entfallen", "requirements no longer met"),
    3: ("auf Antrag der berechtigten Person", "at the holder's request"),
    4: ("Verstoß gegen Auflagen", "breach of conditions"),
    5: ("Ersetzt durch ein neues Dokument", "superseded by a new document"),
    6: ("Prüfung läuft", "under review"),
    7: ("Verdacht auf Missbrauch", "suspected misuse"),
}


def reason_text(code: int, lang: str = "de") -> str:
    en = lang == "en"
    if code not in REASONS:
        return f"reason {code}" if en else f"Grund {code}"
    return REASONS[code][1 if en else 0]


def iso(dt: datetime) -> str:
    """A point in time as a check message's param."""
    return dt.isoformat(timespec="seconds")


def _iso_unix(ts: int) -> str:
    return iso(from_unix(ts))


NOT_CHECKED = "nicht geprüft"


def declaration_of(document: Mapping[str, Any], usecase: UseCase) -> dict[str, Any] | None:
    """Who declared what a document of a declaration use case says, who submitted it through
    which account and which office received it when — from the hashed document: the declarant as
    the subject names them (None where hidden), the rest from its evidence (documents issued
    before evidence existed name only the receiving office, their issuer).
    """
    if usecase.declaration is None:
        return None
    evidence = declaration_evidence_of(document) or {}
    issuer = document.get("issuer")
    issuer = issuer if isinstance(issuer, Mapping) else {}
    received_by = evidence.get("receivedBy")
    if not isinstance(received_by, Mapping):
        received_by = issuer
    submitted_by = evidence.get("submittedBy")
    received_at = evidence.get("receivedAt")
    return {
        "title": dict(usecase.declaration.title),
        "declared_by": _name_at(document.get("credentialSubject"), usecase.declaration.declared_by),
        "submitted_by": {"role": str(submitted_by.get("role", "")),
                         "account": str(submitted_by.get("account", ""))}
        if isinstance(submitted_by, Mapping) else None,
        "received_by": {"name": str(received_by.get("name", "")),
                        "ags": str(received_by.get("ags", ""))},
        "received_at": received_at if isinstance(received_at, str) else None,
    }


def _name_at(subject: object, pointer: str) -> str | None:
    """A person's or company's name at `pointer` ("Vorname Name"), None when it is hidden."""
    try:
        value = resolve_pointer(subject, pointer)
    except LookupError:
        return None
    if isinstance(value, Mapping):
        name = " ".join(value[k] for k in ("vorname", "name") if isinstance(value.get(k), str))
        return name or None
    return value if isinstance(value, str) else None


_ORDER = ("integrity", "anchoring", "issuer", "status", "validity")


def verify_document(
    document: Mapping[str, Any],
    *,
    ledger: LedgerReader,
    usecases: UseCaseRegistry,
    at: datetime | None = None,
    jsonld_loader: Callable[..., Any] | None = None,
) -> VerificationResult:
    """Verifies `document` as of `at` (default: now); never raises for a bad document.

    A W3C VC with a proof set (govchain's Merkle proof and a Data Integrity proof) is checked
    for both; the signature needs `jsonld_loader` (the contexts), without it the document is
    refused rather than its signature ignored."""
    at = at or now()
    v = _Verifier(document, ledger, usecases, at, jsonld_loader)
    return v.run()


@dataclass(frozen=True)
class SignedClaims:
    """What a verified SD-JWT VC says (domain.sd_jwt checked its signature, ES256 with a ledger
    key of `issuer_ags` usable at `signed_at`, its disclosures and its key binding to the wallet;
    the issuer check says so): the disclosed claims, the anchored document it names, who signed
    it with which ledger key."""

    claims: Mapping[str, Any]  # the subject's disclosed fields
    usecase_id: str
    issuer_ags: str  # the AGS the signing key is registered for
    signed_at: int  # iat
    valid_from: int | None  # nbf
    valid_until: int | None  # exp
    target_hash: bytes
    merkle_root: bytes
    path: tuple[bytes, ...]
    chain_id: object
    registry: object


def verify_signed_claims(signed: SignedClaims, *, ledger: LedgerReader, usecases: UseCaseRegistry,
                         at: datetime | None = None) -> VerificationResult:
    """Anchoring, issuer, status and validity of claims a municipality signed for an anchored
    document (an SD-JWT VC presented from a wallet), checked against the ledger like a govchain
    document; integrity is the signature and disclosures, checked before. Never raises."""
    doc: dict[str, Any] = {"credentialSubject": dict(signed.claims)}
    if signed.valid_from is not None:
        doc["validFrom"] = from_unix(signed.valid_from).isoformat()
    if signed.valid_until is not None:
        doc["validUntil"] = from_unix(signed.valid_until).isoformat()
    v = _Verifier(doc, ledger, usecases, at or now())
    return v.run_signed(signed)


def _not_checked(name: str) -> Check:
    return Check(name, CheckStatus.NOT_CHECKED, NOT_CHECKED, "check.not_checked")


def refused(check: str, message: str, at: datetime, *, code: str,
            params: Mapping[str, Any] | None = None) -> VerificationResult:
    """INVALID because of one failed check (`check` one of the five), the others not checked;
    `code` and `params` say `message` as data (see `Check`)."""
    checks = tuple(Check(n, CheckStatus.FAILED, message, code, dict(params or {})) if n == check
                   else _not_checked(n) for n in _ORDER)
    return VerificationResult(status=Status.INVALID, checks=checks,
                              checked_at=at.isoformat(timespec="seconds"))


def unverifiable(document: Mapping[str, Any], reason: str, at: datetime | None = None
                 ) -> VerificationResult:
    """The answer when no ledger can be asked at all."""
    v = _Verifier(document, _NoLedger(), None, at or now())
    v._unreachable("anchoring", reason)
    return v._result(Status.UNVERIFIABLE)


LINK_UNKNOWN = "unknown"
LINK_WITHDRAWN = "withdrawn"
LINK_EXPIRED = "expired"


def link_result(status: Status, message: str, at: datetime, *, why: str, code: str,
                params: Mapping[str, Any] | None = None) -> VerificationResult:
    """The answer for a verification link that cannot be used; `why` (`details["link"]`: unknown,
    withdrawn, expired) lets a view say so distinctly: a withdrawn link says nothing about the
    document, unlike a forgery. `code` and `params` say `message` as data (see `Check`)."""
    checks = tuple(_not_checked(n) for n in _ORDER)
    link = Check("link", CheckStatus.FAILED, message, code, dict(params or {}))
    return VerificationResult(status=status, checks=(*checks, link),
                              checked_at=at.isoformat(timespec="seconds"), details={"link": why})


def with_link_check(result: VerificationResult, message: str, *, code: str,
                    params: Mapping[str, Any] | None = None) -> VerificationResult:
    """`result` with a passed `link` check appended."""
    link = Check("link", CheckStatus.PASSED, message, code, dict(params or {}))
    return replace(result, checks=(*result.checks, link))


class _NoLedger:
    deployment: Deployment

    def verification(self, root: bytes, target_hash: bytes) -> OnChainVerification:
        raise LedgerUnavailableError("kein Ledger")

    def signing_key(self, key_id: bytes) -> SigningKey:
        raise LedgerUnavailableError("kein Ledger")


# Why an answer is UNVERIFIABLE (`VerificationResult.details["unverifiable"]`), for views that
# explain it: the ledger cannot be asked now, the document belongs to another ledger, or this
# installation does not know its document type (its rules, schedule, fields never hidden).
UNVERIFIABLE_LEDGER_DOWN = "ledger-unreachable"
UNVERIFIABLE_OTHER_LEDGER = "other-ledger"
UNVERIFIABLE_UNKNOWN_USECASE = "unknown-usecase"


class _UnknownUseCase(Exception):
    def __init__(self, usecase_id: str) -> None:
        super().__init__(usecase_id)
        self.usecase_id = usecase_id


class _Verifier:
    def __init__(self, document: Mapping[str, Any], ledger: LedgerReader,
                 usecases: UseCaseRegistry | None, at: datetime,
                 jsonld_loader: Callable[..., Any] | None = None) -> None:
        self.doc = document
        self.presented = document
        self.other_proofs: list[Any] = []
        self.jsonld_loader = jsonld_loader
        self.ledger = ledger
        self.usecases = usecases
        self.at = at
        self.checks: dict[str, Check] = {}
        self.extra: dict[str, Any] = {}
        self.details: dict[str, Any] = {}

    def _set(self, name: str, ok: bool | None, message: str, code: str,
             params: Mapping[str, Any] | None = None) -> None:
        status = (CheckStatus.NOT_CHECKED if ok is None
                  else CheckStatus.PASSED if ok else CheckStatus.FAILED)
        self.checks[name] = Check(name, status, message, code, dict(params or {}))

    def _fail(self, name: str, problem: tuple[str, str, dict[str, Any]]) -> None:
        message, code, params = problem
        self._set(name, False, message, code, params)

    def _unreachable(self, name: str, error: object) -> None:
        self._set(name, None, f"Das Ledger ist gerade nicht erreichbar ({error}).",
                  "ledger.unreachable", {"error": str(error)})
        self.details["unverifiable"] = UNVERIFIABLE_LEDGER_DOWN

    def _result(self, status: Status, **kw: Any) -> VerificationResult:
        for name in _ORDER:
            if name not in self.checks:
                self.checks[name] = _not_checked(name)
        doc_id = self.doc.get("id") if isinstance(self.doc, Mapping) else None
        return VerificationResult(
            status=status,
            checks=tuple(self.checks[n] for n in _ORDER),
            checked_at=self.at.isoformat(timespec="seconds"),
            document_id=doc_id if isinstance(doc_id, str) else None,
            usecase=self.extra.get("usecase"),
            declaration=self.extra.get("declaration") if status is not Status.INVALID else None,
            details=dict(self.details),
            **kw,
        )

    def run(self) -> VerificationResult:
        # 1. integrity: the content hashes to the targetHash, the path leads to the root.
        unknown: _UnknownUseCase | None = None
        try:
            if isinstance(self.doc, Mapping):
                self.doc, self.other_proofs = split_proof_set(self.doc)
            check_presented(self.doc)
            try:
                usecase: UseCase | None = self._usecase()
            except _UnknownUseCase as err:  # its hash can still tell a forgery
                usecase, unknown = None, err
            proof = parse_proof(self.doc)
            target = recompute_target_hash(self.doc)
        except RecursionError:
            self._set("integrity", False, "Das Dokument ist zu tief verschachtelt",
                      "integrity.too_deep")
            return self._unverifiable_or(Status.INVALID)
        except InputError as err:
            self._set("integrity", False, f"Das Dokument ist beschädigt oder unvollständig: {err}",
                      "integrity.damaged", {"error": str(err)})
            return self._unverifiable_or(Status.INVALID)
        if target != proof.target_hash:
            self._set("integrity", False,
                      "Der Inhalt wurde verändert: er passt nicht zum verankerten Fingerabdruck.",
                      "integrity.changed")
            return self._unverifiable_or(Status.INVALID)
        if root_of(target, proof.path) != proof.merkle_root:
            self._set("integrity", False, "Der Merkle-Pfad führt nicht zur angegebenen Wurzel.",
                      "integrity.wrong_path")
            return self._unverifiable_or(Status.INVALID)
        hidden = self.doc["proof"].get("hidden")
        self.details["hiddenFields"] = len(hidden) if isinstance(hidden, list) else 0
        if usecase is None:
            assert unknown is not None
            self._set("integrity", None,
                      f"Dokumentart hier unbekannt: „{unknown.usecase_id}“. Der Inhalt passt zu "
                      "seinem Fingerabdruck, aber ohne die Regeln dieser Dokumentart (verborgene "
                      "Pflichtangaben, Gültigkeit) kann diese Prüfstelle das Dokument weder "
                      "bestätigen noch verwerfen.",
                      "integrity.unknown_usecase", {"usecase": unknown.usecase_id})
            self.details["unverifiable"] = UNVERIFIABLE_UNKNOWN_USECASE
            return self._result(Status.UNVERIFIABLE)
        problem = self._hiding_problem(usecase)
        if problem:
            self._fail("integrity", problem)
            return self._unverifiable_or(Status.INVALID)
        self._set("integrity", True, "Der Inhalt ist unverändert (alle Felder passen zum Nachweis).",
                  "integrity.passed")
        self.extra["declaration"] = declaration_of(self.doc, usecase)

        # 2. anchoring
        issuer = self.doc.get("issuer")
        if not isinstance(issuer, Mapping):
            self._set("anchoring", False, "Angaben zum Aussteller fehlen.", "anchoring.no_issuer")
            return self._result(Status.INVALID)
        dep = self.ledger.deployment
        if (issuer.get("chainId") != dep.chain_id
                or str(issuer.get("registry", "")).lower() != dep.document_registry.lower()):
            self._set("anchoring", None,
                      f"Das Dokument gehört zu einem anderen Ledger (Chain {issuer.get('chainId')}, "
                      f"Register {issuer.get('registry')}) und kann hier nicht geprüft werden.",
                      "anchoring.other_ledger",
                      {"chain": issuer.get("chainId"), "registry": issuer.get("registry")})
            self.details["unverifiable"] = UNVERIFIABLE_OTHER_LEDGER
            return self._result(Status.UNVERIFIABLE)
        try:
            onchain = self.ledger.verification(proof.merkle_root, proof.target_hash)
        except LedgerUnavailableError as err:
            self._unreachable("anchoring", err)
            return self._result(Status.UNVERIFIABLE)
        if not onchain.anchored:
            self._set("anchoring", False,
                      "Die Wurzel dieses Dokuments ist im Ledger nicht verankert.",
                      "anchoring.not_anchored")
            return self._result(Status.INVALID, ledger_block=onchain.ledger_block)
        anchored_at = from_unix(onchain.anchored_at)
        problem = self._anchor_copy_problem(onchain)
        if problem:
            self._fail("anchoring", problem)
            return self._result(Status.INVALID, ledger_block=onchain.ledger_block)
        self._set("anchoring", True,
                  f"Verankert am {de(anchored_at)} in Block {onchain.anchor_block}.",
                  "anchoring.anchored", {"at": iso(anchored_at), "block": onchain.anchor_block})
        common = {
            "issuer": {"name": onchain.municipality_name, "ags": onchain.ags,
                       "account": onchain.account},
            "anchored_at": anchored_at.isoformat(),
            "anchor_block": onchain.anchor_block,
            "ledger_block": onchain.ledger_block,
        }

        # 3. issuer: the anchoring account, its municipality and admitted type match the document.
        problem = self._issuer_problem(issuer, onchain, usecase)
        signed_at: datetime | None = None
        if problem is None and self.other_proofs:
            try:
                signed_at = self._signature(issuer)
            except LedgerUnavailableError as err:
                self._unreachable("issuer", err)
                return self._result(Status.UNVERIFIABLE, **common)
            except InputError as err:
                problem = (f"Die Signatur (W3C Data Integrity) ist ungültig: {err}",
                           "issuer.bad_signature", {"error": str(err)})
        if problem:
            self._fail("issuer", problem)
            return self._result(Status.INVALID, **common)
        params: dict[str, Any] = {"municipality": onchain.municipality_name, "ags": onchain.ags,
                                  "usecase": dict(usecase.title)}
        if usecase.declaration is not None:
            params["declaration"] = dict(usecase.declaration.title)
            code = "issuer.received_signed" if signed_at else "issuer.received"
            message = (f"Eingegangen bei {onchain.municipality_name} (AGS {onchain.ags}), "
                       f"zugelassen für „{usecase.title['de']}“; Schlüssel zum Eingangszeitpunkt "
                       f"gültig. Der Inhalt ist eine {usecase.declaration.title['de']}, keine "
                       "Aussage der Behörde.")
        else:
            code = "issuer.issued_signed" if signed_at else "issuer.issued"
            message = (f"Ausgestellt von {onchain.municipality_name} (AGS {onchain.ags}), "
                       f"zugelassen für „{usecase.title['de']}“; Schlüssel zum "
                       "Ausstellungszeitpunkt gültig.")
        if signed_at is not None:
            params["signed_at"] = iso(signed_at)
            message += (f" Signatur (W3C Data Integrity, ecdsa-rdfc-2019) vom {de(signed_at)} mit "
                        "einem für diese Kommune im Register eingetragenen Schlüssel gültig.")
        self._set("issuer", True, message, code, params)

        # 4. status, 5. validity
        return self._status_and_validity(onchain, usecase, common)

    def _status_and_validity(self, onchain: OnChainVerification, usecase: UseCase,
                             common: dict[str, Any]) -> VerificationResult:
        if onchain.status in (DocumentStatus.REVOKED, DocumentStatus.SUSPENDED):
            why = reason_text(onchain.reason)
            params = {"at": _iso_unix(onchain.status_changed_at), "reason": onchain.reason}
            when = de_unix(onchain.status_changed_at)
            if onchain.status is DocumentStatus.REVOKED:
                self._set("status", False, f"Widerrufen am {when} (Grund: {why}).",
                          "status.revoked", params)
                return self._result(Status.REVOKED, status_reason=why, **common)
            self._set("status", False, f"Ausgesetzt seit {when} (Grund: {why}).",
                      "status.suspended", params)
            return self._result(Status.SUSPENDED, status_reason=why, **common)
        self._set("status", True, "Weder widerrufen noch ausgesetzt.", "status.passed")
        status, sched = self._validity(usecase)
        return self._result(status, schedule=sched, **common)

    def run_signed(self, signed: SignedClaims) -> VerificationResult:
        """`run` for signed claims (verify_signed_claims): the same checks from anchoring on."""
        try:
            assert self.usecases is not None
            usecase = self.usecases.get(signed.usecase_id)
        except UnknownUseCaseError:
            self._set("integrity", None, f"Dokumentart hier unbekannt: „{signed.usecase_id}“.",
                      "integrity.signed_unknown_usecase", {"usecase": signed.usecase_id})
            self.details["unverifiable"] = UNVERIFIABLE_UNKNOWN_USECASE
            return self._result(Status.UNVERIFIABLE)
        self.extra["usecase"] = usecase.id
        if root_of(signed.target_hash, signed.path) != signed.merkle_root:
            self._set("integrity", False, "Der Verweis auf das verankerte Dokument ist "
                      "fehlerhaft: der Merkle-Pfad führt nicht zur angegebenen Wurzel.",
                      "integrity.signed_wrong_path")
            return self._unverifiable_or(Status.INVALID)
        self._set("integrity", True, "Die Angaben sind von der Kommune signiert und unverändert "
                  "(SD-JWT VC, jede gezeigte Angabe passt zu ihrem signierten Fingerabdruck).",
                  "integrity.signed_passed")
        dep = self.ledger.deployment
        if (signed.chain_id != dep.chain_id
                or str(signed.registry).lower() != dep.document_registry.lower()):
            self._set("anchoring", None,
                      f"Der Nachweis gehört zu einem anderen Ledger (Chain {signed.chain_id}, "
                      f"Register {signed.registry}) und kann hier nicht geprüft werden.",
                      "anchoring.signed_other_ledger",
                      {"chain": signed.chain_id, "registry": signed.registry})
            self.details["unverifiable"] = UNVERIFIABLE_OTHER_LEDGER
            return self._result(Status.UNVERIFIABLE)
        try:
            onchain = self.ledger.verification(signed.merkle_root, signed.target_hash)
        except LedgerUnavailableError as err:
            self._unreachable("anchoring", err)
            return self._result(Status.UNVERIFIABLE)
        if not onchain.anchored:
            self._set("anchoring", False,
                      "Das Dokument, auf das der Nachweis verweist, ist im Ledger nicht verankert.",
                      "anchoring.signed_not_anchored")
            return self._result(Status.INVALID, ledger_block=onchain.ledger_block)
        self._set("anchoring", True, f"Verankert am {de_unix(onchain.anchored_at)} in Block "
                  f"{onchain.anchor_block}.", "anchoring.anchored",
                  {"at": _iso_unix(onchain.anchored_at), "block": onchain.anchor_block})
        common = {
            "issuer": {"name": onchain.municipality_name, "ags": onchain.ags,
                       "account": onchain.account},
            "anchored_at": from_unix(onchain.anchored_at).isoformat(),
            "anchor_block": onchain.anchor_block,
            "ledger_block": onchain.ledger_block,
        }
        problem: tuple[str, str, dict[str, Any]] | None = None
        if onchain.doc_type != usecase.doc_type:
            problem = ("Das Dokument wurde für eine andere Dokumentart verankert.",
                       "issuer.signed_other_usecase", {})
        elif onchain.ags != signed.issuer_ags:
            problem = (f"Signiert hat ein Schlüssel der Kommune {signed.issuer_ags}, verankert "
                       f"hat aber {onchain.municipality_name} (AGS {onchain.ags}).",
                       "issuer.signed_other_municipality",
                       {"signer_ags": signed.issuer_ags,
                        "municipality": onchain.municipality_name, "ags": onchain.ags})
        elif (onchain.account_compromised_since
              and onchain.anchored_at >= onchain.account_compromised_since):
            problem = (f"Das Konto des Ausstellers gilt seit "
                       f"{de_unix(onchain.account_compromised_since)} als kompromittiert; das "
                       "Dokument wurde danach verankert.", "issuer.signed_compromised",
                       {"since": _iso_unix(onchain.account_compromised_since)})
        if problem:
            self._fail("issuer", problem)
            return self._result(Status.INVALID, **common)
        self._set("issuer", True,
                  f"Ausgestellt von {onchain.municipality_name} (AGS {onchain.ags}), zugelassen "
                  f"für „{usecase.title['de']}“. Signatur (SD-JWT VC, ES256) vom "
                  f"{de_unix(signed.signed_at)} mit einem für diese Kommune im Register "
                  "eingetragenen Schlüssel gültig; Schlüsselbindung an die Wallet geprüft.",
                  "issuer.signed_issued",
                  {"municipality": onchain.municipality_name, "ags": onchain.ags,
                   "usecase": dict(usecase.title), "signed_at": _iso_unix(signed.signed_at)})
        if "validFrom" not in self.doc:
            self.doc = {**self.doc, "validFrom": from_unix(onchain.anchored_at).isoformat()}
        return self._status_and_validity(onchain, usecase, common)

    def _usecase(self) -> UseCase:
        usecase_id = usecase_id_of(self.doc)
        if usecase_id is None or self.usecases is None:
            raise InputError("Die Dokumentart (credentialStatus.usecase) fehlt")
        try:
            usecase = self.usecases.get(usecase_id)
        except UnknownUseCaseError:
            raise _UnknownUseCase(usecase_id) from None
        types = self.doc.get("type")
        if not isinstance(types, list) or usecase.credential_type not in types:
            raise InputError(f"Der Typ passt nicht zur Dokumentart {usecase_id!r}")
        self.extra["usecase"] = usecase.id
        return usecase

    def _hiding_problem(self, usecase: UseCase) -> tuple[str, str, dict[str, Any]] | None:
        """What hiding may not leave: a neverHidden field of the use case hidden (wholly or in
        part), or a placeholder (null element, empty object) where hiding cannot have left one."""
        subject = self.doc["credentialSubject"]
        salts = self.doc["proof"]["salts"]
        pointer = usecase.hidden_protected_field(subject, salts)
        if pointer is not None:
            label = usecase.protected_fields[pointer]
            return (f"Das Feld „{label}“ ist ganz oder teilweise verborgen; bei "
                    f"„{usecase.title['de']}“ darf es nicht verborgen werden.",
                    "integrity.protected_hidden",
                    {"field": label, "pointer": pointer, "usecase": dict(usecase.title)})
        for placeholder in hiding_placeholders(subject, salts):
            why = usecase.placeholder_problem(placeholder, resolve_pointer(subject, placeholder))
            if why:
                return (f"Das Dokument enthält an {placeholder or '/'} einen leeren Platzhalter, "
                        f"den Verbergen nicht hinterlässt ({why}).", "integrity.placeholder",
                        {"pointer": placeholder or "/", "error": why})
        return None

    def _anchor_copy_problem(self, onchain: OnChainVerification) -> tuple[str, str, dict[str, Any]] | None:
        """The document's copy of its anchor (proof.anchor) is never shown; one that contradicts
        the ledger is refused, so no reader of the file is misled by it."""
        anchor = self.doc["proof"].get("anchor")
        if anchor is None:
            return None
        dep = self.ledger.deployment
        try:
            at = parse_time(str(anchor.get("anchoredAt")))
        except InputError:
            at = None
        if (anchor.get("chainId") != dep.chain_id
                or str(anchor.get("contract", "")).lower() != dep.document_registry.lower()
                or anchor.get("block") != onchain.anchor_block
                or at is None or int(at.timestamp()) != onchain.anchored_at):
            return ("Die Angaben zur Verankerung im Dokument (proof.anchor) widersprechen dem "
                    f"Ledger: verankert wurde in Block {onchain.anchor_block} am "
                    f"{de_unix(onchain.anchored_at)}.", "anchoring.copy_contradicts",
                    {"block": onchain.anchor_block, "at": _iso_unix(onchain.anchored_at)})
        return None

    def _issuer_problem(self, issuer: Mapping[str, Any], onchain: OnChainVerification,
                        usecase: UseCase) -> tuple[str, str, dict[str, Any]] | None:
        municipality = {"municipality": onchain.municipality_name, "ags": onchain.ags}
        if onchain.doc_type != usecase.doc_type:
            return ("Die Wurzel wurde für eine andere Dokumentart verankert.",
                    "issuer.other_usecase", {})
        if str(issuer.get("account", "")).lower() != onchain.account.lower():
            return ("Das Dokument nennt ein anderes Ausstellerkonto als das, das es verankert hat.",
                    "issuer.other_account", {})
        if issuer.get("ags") != onchain.ags:
            return (f"Das Dokument nennt AGS {issuer.get('ags')}, verankert hat aber "
                    f"{onchain.municipality_name} (AGS {onchain.ags}).", "issuer.other_ags",
                    {"named_ags": issuer.get("ags"), **municipality})
        if issuer.get("name") != onchain.municipality_name:
            return (f"Das Dokument nennt „{issuer.get('name')}“ als Aussteller, im Register steht "
                    f"„{onchain.municipality_name}“.", "issuer.other_name",
                    {"named": issuer.get("name"), **municipality})
        evidence = declaration_evidence_of(self.doc)
        if evidence is not None and evidence.get("receivedBy") != {
                "name": onchain.municipality_name, "ags": onchain.ags}:
            return ("Die Erklärung nennt eine andere empfangende Behörde als die, die sie "
                    f"verankert hat ({onchain.municipality_name}, AGS {onchain.ags}).",
                    "issuer.other_receiver", municipality)
        since = onchain.account_compromised_since
        if since and onchain.anchored_at >= since:
            return (f"Der Schlüssel des Ausstellers gilt seit {de_unix(since)} als kompromittiert; "
                    f"dieses Dokument wurde danach ({de_unix(onchain.anchored_at)}) verankert.",
                    "issuer.compromised",
                    {"since": _iso_unix(since), "at": _iso_unix(onchain.anchored_at)})
        return None

    def _signature(self, issuer: Mapping[str, Any]) -> datetime:
        """Checks the proof set's Data Integrity proof against a key the ledger registered for
        the issuing municipality, usable when the proof was made; when it was made.
        InputError says what is wrong."""
        if len(self.other_proofs) != 1:
            raise InputError("neben dem govchain-Nachweis ist genau ein weiterer Nachweis "
                             f"erlaubt, hier {len(self.other_proofs)}")
        proof = self.other_proofs[0]
        if not isinstance(proof, Mapping):
            raise InputError("der Nachweis ist kein JSON-Objekt")
        if self.details.get("hiddenFields"):
            raise InputError("sie deckt das vollständige Dokument; bei verborgenen Feldern gilt "
                             "nur der govchain-Nachweis (die Signatur hätte entfernt werden müssen)")
        if self.jsonld_loader is None:
            raise InputError("diese Prüfstelle kennt die JSON-LD-Kontexte nicht")
        did_url, key_id = key_id_of_method(str(proof.get("verificationMethod", "")))
        issuer_id = issuer.get("id")
        if did_url != issuer_id or ags_of_did(did_url) != issuer.get("ags"):
            raise InputError(f"der Schlüssel gehört zu {did_url!r}, nicht zum Aussteller "
                             f"{issuer_id!r}")
        key = self.ledger.signing_key(key_id)
        if key.ags != issuer.get("ags"):
            raise InputError("der Schlüssel ist im Register nicht für diese Kommune eingetragen"
                             if key.ags else "der Schlüssel ist im Register unbekannt")
        created = parse_time(str(proof.get("created", "")))
        why = signing_key_usable_at(key, int(created.timestamp()))
        if why:
            raise InputError(why)
        # verify_proof reads the document without its proof set, as jsonld-signatures does
        if not verify_proof(self.presented, proof, public_key_from_bytes(key.public_key),
                            self.jsonld_loader):
            raise InputError("sie passt nicht zum Inhalt oder nicht zum Schlüssel")
        return created

    def _validity(self, usecase: UseCase) -> tuple[Status, dict[str, Any] | None]:
        try:
            valid_from = parse_time(str(self.doc["validFrom"]))
            until_raw = self.doc.get("validUntil")
            valid_until = parse_time(str(until_raw)) if until_raw else None
        except (KeyError, InputError):
            self._set("validity", False, "Gültigkeitsangaben fehlen oder sind unlesbar.",
                      "validity.unreadable")
            return Status.INVALID, None
        if self.at < valid_from:
            self._set("validity", False, f"Noch nicht gültig: gilt ab {de(valid_from)}.",
                      "validity.not_yet", {"valid_from": iso(valid_from)})
            return Status.NOT_YET_VALID, None
        if valid_until is not None and self.at >= valid_until:
            self._set("validity", False, f"Abgelaufen am {de(valid_until)}.",
                      "validity.expired", {"valid_until": iso(valid_until)})
            return Status.EXPIRED, None
        # Each message with the span has two codes: until a time, or until revoked (`…_open`).
        span = f"gültig ab {de(valid_from)}" + (
            f" bis {de(valid_until)}" if valid_until else " bis auf Widerruf")
        until = valid_until is not None
        params: dict[str, Any] = {"valid_from": iso(valid_from)}
        if valid_until is not None:
            params["valid_until"] = iso(valid_until)
        if usecase.schedule_pointer is None:
            self._set("validity", True, f"Zum Prüfzeitpunkt gültig ({span}).",
                      "validity.valid" if until else "validity.valid_open", params)
            return Status.VALID, None
        subject = self.doc.get("credentialSubject")
        try:
            windows = schedule.windows_from_subject(subject, usecase.schedule_pointer)
        except (InputError, ValueError):
            # A check that cannot be evaluated never gives VALID: hiding a window would make a
            # permit valid at any hour. (neverHidden already refuses this; this is the last line.)
            self._set("validity", False,
                      "Die Zeitfenster sind ganz oder teilweise verborgen; ob die Erlaubnis jetzt "
                      f"gilt, lässt sich nicht prüfen ({span}).",
                      "validity.windows_hidden" if until else "validity.windows_hidden_open",
                      params)
            return Status.INVALID, None
        result = schedule.evaluate(windows, self.at)
        sched = {"inside": result.inside, "description": result.description,
                 "nextStart": result.next_start.isoformat() if result.next_start else None}
        # the description of the windows is German only (schedule.describe)
        params["windows"] = result.description
        if result.inside:
            self._set("validity", True,
                      f"Jetzt gültig: innerhalb der erlaubten Zeiten ({result.description}); {span}.",
                      "validity.inside_windows" if until else "validity.inside_windows_open",
                      params)
            return Status.VALID, sched
        nxt = result.next_start
        if nxt is not None and (valid_until is None or nxt < valid_until):
            self._set("validity", False,
                      f"Jetzt nicht gültig: außerhalb der erlaubten Zeiten ({result.description}); "
                      f"nächstes Zeitfenster ab {de(nxt)}.", "validity.outside_windows",
                      {"windows": result.description, "next": iso(nxt)})
            return Status.NOT_YET_VALID, sched
        self._set("validity", False,
                  f"Jetzt nicht gültig: außerhalb der erlaubten Zeiten ({result.description}); "
                  "bis zum Ablauf folgt kein weiteres Zeitfenster.", "validity.no_more_windows",
                  {"windows": result.description})
        return Status.EXPIRED, sched

    def _unverifiable_or(self, status: Status) -> VerificationResult:
        """A local integrity failure still needs the ledger to be reachable to say INVALID."""
        zero = bytes(32)
        try:
            self.ledger.verification(zero, zero)
        except LedgerUnavailableError as err:
            self._unreachable("anchoring", err)
            return self._result(Status.UNVERIFIABLE)
        return self._result(status)
