"""The service's settings: command line over environment (GOVCHAIN_*) over ``<home>/config.toml``.

The config file lives in the home directory, so the home itself comes only from the command line,
the environment (GOVCHAIN_HOME) or the default ~/.govchain.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

from govchain.adapters.context import ENV_HOME, default_home
from govchain.adapters.db import default_database_url
from govchain.domain.vocabulary import Role
from govchain.errors import ConfigurationError

CONFIG_FILENAME = "config.toml"
# Staff only: landlords are not the municipality's staff and keep their passwords
DEFAULT_OIDC_ROLES: dict[str, Role] = {"registrar": "registrar", "clerk": "clerk"}


@dataclass(frozen=True)
class AnchoringSettings:
    """How the anchoring pipeline batches and retries (`[anchoring]` in config.toml)."""

    window: float = 0.25  # seconds the oldest waiting document may wait for others to join
    max_batch: int = 5000  # documents per anchor transaction
    confirmations: int = 0  # blocks on top of the anchor before documents count as anchored
    replace_after: float = 30.0  # seconds before an unmined transaction is re-signed higher
    retry_delay: float = 1.0  # first back-off after the node failed; doubles up to max_retry_delay
    max_retry_delay: float = 10.0
    idle_exit: float = 30.0  # a worker with nothing to do stops after this long


class Settings(BaseSettings):
    """Everything `govchain serve` needs to know; unset values fall back to a working default."""

    model_config = SettingsConfigDict(env_prefix="GOVCHAIN_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None  # None: SQLite in the home directory
    rpc_url: str | None = None  # None: the embedded chain in the home directory
    usecases: Path | None = None  # None: the use cases shipped with govchain
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str | None = None  # None: http://host:port
    # The govchain JSON-LD context new documents name; None: {base_url}/credentials/v1 (served)
    context_url: str | None = None
    token_ttl_minutes: int = Field(default=60, ge=1, le=24 * 60)
    access_log: bool = True  # one line per request (link tokens and codes redacted)
    # "json": one JSON object per log line, with the request's X-Request-ID (as in the audit log)
    log_format: Literal["text", "json"] = "text"
    threads: int = Field(default=100, ge=4, le=1000)  # request threads (anyio's default: 40)
    # Any request (a bulk issuance of 10,000 subjects is ≈20 MB); 413 beyond
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=64 * 1024)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    public_rate_per_minute: int = Field(default=120, ge=1)  # per client address, public endpoints
    api_key_rate_per_minute: int = Field(default=6000, ge=1)  # per institutional API key
    login_max_failures: int = Field(default=5, ge=1)  # per username and per client address
    login_window_seconds: int = Field(default=300, ge=1)
    # Addresses (or networks, e.g. "10.0.0.0/8") of reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; empty: the TCP peer is the client, whatever a header says
    trusted_proxies: list[str] = Field(default_factory=list)
    # Redis in which every process and instance keeps the counts of the rate limits and the
    # login throttling (redis://HOST:6379/0, rediss://…, unix://PATH); None: each process counts
    # on its own, in memory
    redis_url: str | None = None
    # Start of every key in Redis; None: derived from the database URL, so the instances on one
    # database share their counts and other installations using the same Redis do not
    redis_prefix: str | None = Field(default=None, max_length=100, pattern=r"^\S+$")
    # Swagger UI at /docs (loads its script from a CDN): for development only
    api_docs: bool = False
    # Verification from the status index built from contract events (False: every check calls
    # the contract; the benchmark compares both)
    status_index: bool = True
    # Group-commit anchoring (govchain.pipeline.anchoring)
    anchor_window_ms: int = Field(default=250, ge=0, le=60_000)
    anchor_max_batch: int = Field(default=5000, ge=1, le=100_000)
    anchor_confirmations: int = Field(default=0, ge=0, le=1000)
    anchor_replace_after_seconds: float = Field(default=30.0, gt=0)
    anchor_wait_seconds: float = Field(default=10.0, ge=0, le=120)  # ?wait=true, landlords
    # The PKCS#11 library of the HSM that holds the accounts' and the signing keys (None: the
    # encrypted file keystore in the home) and its token's label; the user PIN only from
    # GOVCHAIN_PKCS11_PIN or GOVCHAIN_PKCS11_PIN_FILE, never here (adapters.hsm)
    pkcs11_module: Path | None = None
    pkcs11_token_label: str | None = Field(default=None, min_length=1, max_length=32)
    # False: this process does not anchor (the request processes of `serve --workers N`, whose
    # anchoring runs in a process of its own)
    anchor_workers: bool = True
    # Staff sign-in with OpenID Connect (README "Sign-in with OpenID Connect"); None: passwords
    # only. The issuer exactly as the provider names itself; https, or http on loopback (tests)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None  # None: a public client (PKCE alone)
    oidc_scope: str = "openid profile"
    oidc_username_claim: str = "preferred_username"  # must equal the govchain username
    oidc_role_claim: str = "govchain_role"  # a string or a list of strings (e.g. "groups")
    # Value of the role claim → govchain role; values not listed give no role
    oidc_roles: dict[str, Role] = Field(default_factory=lambda: dict(DEFAULT_OIDC_ROLES))
    oidc_ags_claim: str = "govchain_ags"  # the clerk's municipality, must equal the account's

    @property
    def effective_database_url(self) -> str:
        return self.database_url or default_database_url(self.home)

    @property
    def effective_redis_prefix(self) -> str:
        """`redis_prefix`, or one derived from the database URL (without its password): the
        processes and instances on one database share their counts without being told to. An
        instance that reaches the database under another URL needs the same redis_prefix."""
        if self.redis_prefix is not None:
            return self.redis_prefix
        url = make_url(self.effective_database_url).render_as_string(hide_password=True)
        return f"govchain:{hashlib.sha256(url.encode()).hexdigest()[:16]}:"

    @property
    def anchoring(self) -> AnchoringSettings:
        return AnchoringSettings(window=self.anchor_window_ms / 1000,
                                 max_batch=self.anchor_max_batch,
                                 confirmations=self.anchor_confirmations,
                                 replace_after=self.anchor_replace_after_seconds)

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url: redis://HOST:PORT/DB, rediss://… oder unix://PFAD")
        return url

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer is None:
            return self
        if not self.oidc_client_id:
            raise ValueError("oidc_issuer braucht oidc_client_id")
        parts = urlsplit(self.oidc_issuer)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise ValueError("oidc_issuer: https://…, http:// nur auf 127.0.0.1/localhost")
        if "openid" not in self.oidc_scope.split():
            raise ValueError("oidc_scope muss openid enthalten")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_home = init_settings().get("home")
        return init_settings, env_settings, _HomeConfigFile(settings_cls, init_home)


class _HomeConfigFile(PydanticBaseSettingsSource):
    """``<home>/config.toml``: top-level keys named like the settings (``port = 8080``)."""

    def __init__(self, settings_cls: type[BaseSettings], init_home: Any) -> None:
        super().__init__(settings_cls)
        self._init_home = init_home

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        home = Path(self._init_home or os.environ.get(ENV_HOME) or default_home())
        path = home / CONFIG_FILENAME
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ConfigurationError(f"Konfigurationsdatei {path} nicht lesbar: {err}") from err
        known = set(self.settings_cls.model_fields) - {"home"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(
                f"Unbekannte Einstellung(en) in {path}: {', '.join(unknown)}; bekannt: "
                + ", ".join(sorted(known)))
        return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from environment and config file; tests build their own Settings instead."""
    return Settings()
