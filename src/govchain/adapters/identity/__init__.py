"""Identity providers staff sign in with instead of a local password (OpenID Connect)."""

from govchain.adapters.identity.oidc import (
    AuthorizationRequest,
    IdentityProviderError,
    OidcClient,
    ProviderMetadata,
    SignInRefused,
)

__all__ = ["AuthorizationRequest", "IdentityProviderError", "OidcClient", "ProviderMetadata",
           "SignInRefused"]
