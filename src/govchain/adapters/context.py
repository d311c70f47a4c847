"""The govchain home directory and the objects a command works with (chain, ledger, keys, use cases).

Layout of a home (default ~/.govchain, or --home / GOVCHAIN_HOME):
    chain/              the embedded chain's journal (absent when a JSON-RPC node is used)
    keys/               encrypted keystores of the registrar and the issuer accounts and the
                        signing keys (with pkcs11_module set: new keys go to the HSM instead)
    secrets/passphrase  development homes only: the random keystore passphrase (mode 0600)
    deployment.json     chain id and contract addresses of this ledger
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from govchain.adapters.chain import Chain, open_chain
from govchain.adapters.files import private_dir
from govchain.adapters.hsm import (
    ENV_MODULE,
    ENV_TOKEN_LABEL,
    Pkcs11Config,
    Token,
    TokenKeyStore,
    resolve_pin,
)
from govchain.adapters.index import IndexedLedger
from govchain.adapters.keys import (
    ENV_PASSPHRASE,
    ENV_PASSPHRASE_FILE,
    Keys,
    KeyStore,
    create_dev_passphrase,
    resolve_passphrase,
)
from govchain.adapters.ledger import Ledger, load_deployment
from govchain.domain.ledger_view import Deployment, LedgerReader
from govchain.domain.usecases import UseCaseRegistry, default_usecases_dir
from govchain.errors import ConfigurationError, KeyStoreError

ENV_HOME = "GOVCHAIN_HOME"
ENV_RPC_URL = "GOVCHAIN_RPC_URL"
ENV_PUBLIC_BASE_URL = "GOVCHAIN_PUBLIC_BASE_URL"
ENV_CONTEXT_URL = "GOVCHAIN_CONTEXT_URL"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"  # settings' default host and port
REGISTRAR_LABEL = "registrar"


def default_home() -> Path:
    return Path(os.environ.get(ENV_HOME) or Path.home() / ".govchain")


def issuer_label(ags: str) -> str:
    return f"issuer:{ags}"


@dataclass
class Context:
    """Lazily opened resources of one home; close() releases the chain."""

    home: Path
    rpc_url: str | None = None
    usecases_dir: Path | None = None
    # Where the service is reached (its DIDs, status lists and JSON-LD context live there):
    # settings.base_url; GOVCHAIN_PUBLIC_BASE_URL for the CLI
    public_base_url: str | None = None
    # The URL documents name as their govchain JSON-LD context (default: {base_url}/credentials/v1)
    context_url_setting: str | None = None
    # The PKCS#11 token that holds the keys (settings.pkcs11_module/pkcs11_token_label, else
    # GOVCHAIN_PKCS11_MODULE/GOVCHAIN_PKCS11_TOKEN_LABEL); None: the encrypted file keystore
    pkcs11_module: Path | None = None
    pkcs11_token_label: str | None = None
    _chain: Chain | None = field(default=None, repr=False)
    # Set by a long-running service (use_index): verification then answers from the status index.
    indexed: IndexedLedger | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return (self.public_base_url or os.environ.get(ENV_PUBLIC_BASE_URL)
                or DEFAULT_BASE_URL).rstrip("/")

    @property
    def context_url(self) -> str:
        return (self.context_url_setting or os.environ.get(ENV_CONTEXT_URL)
                or self.base_url + "/credentials/v1")

    @property
    def deployment_file(self) -> Path:
        return self.home / "deployment.json"

    @property
    def dev_passphrase_file(self) -> Path:
        return self.home / "secrets" / "passphrase"

    @property
    def initialised(self) -> bool:
        return self.deployment_file.exists()

    @property
    def chain(self) -> Chain:
        if self._chain is None:
            private_dir(self.home)
            self._chain = open_chain(home=None if self.rpc_url else self.home,
                                     rpc_url=self.rpc_url)
        return self._chain

    @property
    def pkcs11(self) -> Pkcs11Config | None:
        module = self.pkcs11_module or os.environ.get(ENV_MODULE)
        if not module:
            return None
        label = self.pkcs11_token_label or os.environ.get(ENV_TOKEN_LABEL)
        if not label:
            raise ConfigurationError(f"pkcs11_module ist gesetzt, aber kein pkcs11_token_label "
                                     f"({ENV_TOKEN_LABEL})")
        return Pkcs11Config(Path(module), label)

    @cached_property
    def keys(self) -> Keys:
        pkcs11 = self.pkcs11
        if pkcs11 is None:
            return KeyStore(self.home / "keys", resolve_passphrase(self.dev_passphrase_file))
        try:  # keys made before the HSM stay usable while a passphrase is at hand
            fallback: KeyStore | None = KeyStore(self.home / "keys",
                                                 resolve_passphrase(self.dev_passphrase_file))
        except KeyStoreError:
            fallback = None
        return TokenKeyStore(Token(pkcs11, resolve_pin()), fallback)

    def ensure_keystore(self) -> Keys:
        """The keystore, creating a development passphrase in a new home without one."""
        private_dir(self.home)
        configured = os.environ.get(ENV_PASSPHRASE) or os.environ.get(ENV_PASSPHRASE_FILE)
        if not configured and self.pkcs11 is None and not self.dev_passphrase_file.exists():
            if (self.home / "keys").exists():
                raise KeyStoreError(f"Schlüssel in {self.home / 'keys'}, aber keine Passphrase: "
                                    f"{ENV_PASSPHRASE} oder {ENV_PASSPHRASE_FILE} setzen")
            create_dev_passphrase(self.dev_passphrase_file)
        return self.keys

    @cached_property
    def deployment(self) -> Deployment:
        return load_deployment(self.deployment_file)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.chain, self.deployment)

    @property
    def reader(self) -> LedgerReader:
        """What verification asks: the status index where the service keeps one, else the
        contracts directly (a one-off CLI check: building an index would cost more)."""
        return self.indexed if self.indexed is not None else self.ledger

    def use_index(self, *, max_lag: int = 1) -> IndexedLedger:
        """Builds the status index from the contracts' events and makes verification use it."""
        if self.indexed is None:
            indexed = IndexedLedger(self.ledger, max_lag=max_lag)
            indexed.index.sync()
            indexed.start_polling()
            self.indexed = indexed
        return self.indexed

    @cached_property
    def usecases(self) -> UseCaseRegistry:
        return UseCaseRegistry.load(self.usecases_dir or default_usecases_dir())

    def close(self) -> None:
        if self.indexed is not None:
            self.indexed.stop_polling()
            self.indexed = None
        if self._chain is not None:
            self._chain.close()
            self._chain = None
        keys = self.__dict__.pop("keys", None)
        if isinstance(keys, TokenKeyStore):
            keys.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
