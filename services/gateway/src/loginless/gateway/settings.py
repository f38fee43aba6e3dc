"""Settings of the gateway service, read from ``GATEWAY_*`` environment variables."""

from typing import ClassVar

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from loginless.events.payloads.links import GuestAction
from loginless.links.client import LinksClientSettings
from loginless.shared.services import GUEST_ACTIONS, owner_of
from loginless.shared.settings import ServiceSettings

# The strictest policy the guest pages work with: nothing inline, nothing from elsewhere except a firm's logo.
DEFAULT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class ServiceRoute(BaseModel):
    """Where the guest pages of one action live: the owning service's name (the assertion's audience) and URL."""

    service: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    url: str = Field(pattern=r"^https?://")


# Where the local stack serves each action's pages (the service registry); deployments set GATEWAY_ROUTES.
DEFAULT_ROUTES: dict[GuestAction, ServiceRoute] = {
    action: ServiceRoute(service=owner_of(action).name, url=f"http://127.0.0.1:{owner_of(action).local_port}")
    for action in GUEST_ACTIONS
}


class GatewaySettings(ServiceSettings, LinksClientSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "gateway"

    routes: dict[GuestAction, ServiceRoute] = Field(
        default_factory=lambda: dict(DEFAULT_ROUTES),
        description='Action -> owning service, as JSON: {"view": {"service": "documents", "url": "http://..."}, ...}',
    )
    assertion_private_key: SecretStr = Field(
        SecretStr(""), description="Ed25519 private key (base64 of the raw 32 bytes) that signs guest assertions")
    cookie_secret: SecretStr = Field(
        SecretStr(""), description="HMAC key of the guest cookies; 32+ random characters, the same on every replica")
    previous_cookie_secrets: list[SecretStr] = Field(
        default_factory=list, description='Earlier cookie secrets, still accepted (never used to sign), as JSON: '
        '["old secret"]. Keep one for GUEST_SESSION_MAX_SECONDS after replacing it, then remove it')
    guest_session_max_seconds: int = Field(
        24 * 3600, ge=60, description="A guest's cookie lasts this long; access still ends with the link")
    verification_session_seconds: int = Field(
        1800, ge=60, description="How long a guest has to enter a one-time code after opening the link")
    device_proof_seconds: int = Field(
        90 * 24 * 3600, ge=60, description="How long a browser stays proven for a link after passing a one-time "
        "code there (or giving the link's first answers), for services that ask new devices for a code")
    invalid_token_limit: int = Field(
        20, ge=1, description="Invalid link tokens an address may try per window, counted across every replica, "
        "before its invalid ones get 429 (valid tokens always pass)")
    invalid_token_window_seconds: float = Field(600.0, ge=10, description="The rate limit's sliding window")
    trusted_proxy_hops: int = Field(
        0, ge=0, description="Reverse proxies in front of the gateway whose X-Forwarded-For entries are trusted")
    upstream_connect_timeout_seconds: float = Field(5.0, gt=0)
    upstream_io_timeout_seconds: float = Field(
        120.0, gt=0, description="Longest pause while streaming to or from a service (uploads, downloads)")
    upstream_max_connections: int = Field(200, ge=1)
    link_state_cache_seconds: float = Field(
        0.1, ge=0, le=0.5, description="How long a replica may reuse a link's state it just read (revocation "
        "reaches it that much later); 0 reads the read model on every request")
    link_state_max_staleness_seconds: float = Field(
        2.0, ge=0.5, description="While the worker's last report that it was caught up on links.events is older "
        "than this (it stopped, or Kafka or its consumer stalled), the read model may miss a revocation: a guest's "
        "cookie is then checked with links itself before it lets them in")
    content_security_policy: str = DEFAULT_CONTENT_SECURITY_POLICY
    forward_auth_enabled: bool = Field(
        False, description="Answer /auth/forward: a proxy in front (nginx auth_request, Envoy ext_authz, Traefik "
        "ForwardAuth) asks the gateway's admission and moves the bytes itself. Only behind such a proxy, which "
        "must never route /auth/forward from the outside (services/gateway/README.md, forward-auth mode)")
    notifications_url: str = Field(
        "http://127.0.0.1:8006", description="The notifications service, which answers the one-click unsubscribe "
        "links of owner alerts (/unsubscribe/...)")

    @field_validator("routes")
    @classmethod
    def _every_action_is_routed(cls, routes: dict[str, ServiceRoute]) -> dict[str, ServiceRoute]:
        missing = set(DEFAULT_ROUTES) - set(routes)
        if missing:
            raise ValueError(f"GATEWAY_ROUTES has no route for {sorted(missing)}")
        return routes

    @property
    def secure_cookies(self) -> bool:
        """Cookies are ``Secure`` everywhere except on a plain-http public URL (local development)."""
        return not self.public_url.startswith("http://")
