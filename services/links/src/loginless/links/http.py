"""The HTTP API: the staff API under ``/v1`` (a tenant's API key) and the internal API under ``/internal/v1``
(the gateway and other services, holding the internal secret). Controllers only translate; handlers decide."""

from __future__ import annotations

import hmac
from typing import TypeAlias

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody

from loginless.links import handlers
from loginless.links.handlers import ClientInfo, LinksContext
from loginless.links.tenants import ApiKeys
from loginless.links.views import (
    AccessList,
    AccessView,
    ApiKeyIn,
    ApiKeyList,
    ApiKeyView,
    ClientIn,
    CodeIn,
    IssuedLinks,
    IssueLinksIn,
    LinkList,
    LinkView,
    NewApiKey,
    NewTenant,
    NewTenantIn,
    StaffPrincipalView,
    TenantPatch,
    TenantView,
    TokenIn,
    Verified,
    branding_of,
)
from loginless.shared.branding import Branding
from loginless.shared.errors import NotFound
from loginless.shared.web.auth import StaffPrincipal, bearer_token, internal_only
from loginless.shared.web.context import correlation_id_of
from loginless.shared.web.idempotency import REPLAYED_HEADER, Answer, IdempotencyKey
from loginless.shared.web.pagination import (
    PAGE_LIMIT_DEFAULT,
    PageCursor,
    PageLimit,
    cursor_int,
    cursor_time,
    decode_cursor,
    page,
)
from loginless.shared.web.problems import problem_responses

# What handlers ask for: the calling tenant, the handlers' context, the API keys, an id from the path.
Staff: TypeAlias = NamedDependency[StaffPrincipal]
Links: TypeAlias = NamedDependency[LinksContext]
Keys: TypeAlias = NamedDependency[ApiKeys]
PathId: TypeAlias = FromPath[str]


STAFF_PROBLEMS = {401: "Missing or invalid API key"}


def client_of(data: ClientIn | None) -> ClientInfo:
    if data is None:
        return ClientInfo()
    return ClientInfo(client_ip=(data.client_ip or "")[:64] or None, user_agent=(data.user_agent or "")[:512] or None)


# ---- staff API --------------------------------------------------------------------------------------------


# Shown in the OpenAPI document: staff endpoints need a tenant's API key (the scheme is declared by the app).
STAFF_SECURITY = [{"apiKey": []}]


class TenantController(Controller):
    path = "/v1/tenant"
    security = STAFF_SECURITY
    tags = ["tenant"]

    @get("/", summary="The calling tenant: name, branding and contact shown to its guests",
         responses=problem_responses(STAFF_PROBLEMS))
    async def get_tenant(self, staff: Staff, links: Links) -> TenantView:
        tenant = await links.tenants.get(staff.tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        return TenantView.of(tenant)

    @patch("/", summary="Change the name, branding or contact",
           responses=problem_responses(STAFF_PROBLEMS | {422: "A value is not acceptable (see errors)"}))
    async def update_tenant(self, staff: Staff, links: Links, data: JSONBody[TenantPatch]) -> TenantView:
        return TenantView.of(await links.tenants.update(staff.tenant_id, data.changes()))


class ApiKeyController(Controller):
    path = "/v1/api-keys"
    security = STAFF_SECURITY
    tags = ["api keys"]

    @post("/", summary="A new API key for the calling tenant, shown this once (and to a retry with the same "
          "Idempotency-Key within 24 hours)", responses=problem_responses(STAFF_PROBLEMS))
    async def create_api_key(self, staff: Staff, api_keys: Keys, links: Links,
                             idempotency_key: IdempotencyKey = None) -> Response[NewApiKey]:
        async def create() -> Answer:
            key, info = await api_keys.create(staff.tenant_id)
            new_key = NewApiKey(key_id=info.key_id, created_at=info.created_at, api_key=key.value)
            return Answer(201, new_key.model_dump(mode="json"))

        answer = await links.idempotency.run(tenant_id=staff.tenant_id, operation="create-api-key",
                                             key=idempotency_key, request={}, work=create)
        return answer.response()

    @get("/", summary="The tenant's active API keys (ids only)", responses=problem_responses(STAFF_PROBLEMS))
    async def list_api_keys(self, staff: Staff, api_keys: Keys, cursor: PageCursor = None,
                            limit: PageLimit = PAGE_LIMIT_DEFAULT) -> ApiKeyList:
        after = decode_cursor(cursor, parts=2)
        rows = await api_keys.active(staff.tenant_id, limit=limit + 1,
                                     after=(cursor_time(after[0]), after[1]) if after else None)
        found, next_cursor = page(rows, limit, key=lambda info: (info.created_at.isoformat(), info.key_id))
        return ApiKeyList(api_keys=[ApiKeyView.of(info) for info in found], next_cursor=next_cursor)

    @delete("/{key_id:str}", summary="Revoke an API key: it stops working at once here, within 30 s elsewhere",
            responses=problem_responses(STAFF_PROBLEMS | {404: "The tenant has no such active key"}))
    async def revoke_api_key(self, staff: Staff, api_keys: Keys, key_id: PathId) -> None:
        if not await api_keys.revoke(staff.tenant_id, key_id):
            raise NotFound("no such API key")


class LinkController(Controller):
    path = "/v1/links"
    security = STAFF_SECURITY
    tags = ["links"]

    @post("/", summary="Issue one link per recipient", description=(
        "Each recipient gets a link of their own (own URL, own stream, revocable alone). The URLs are in this "
        "response only. With an Idempotency-Key, repeating the same body within 24 hours returns the same "
        f"response (header {REPLAYED_HEADER}: true); another body with that key is a 422."),
        responses=problem_responses(STAFF_PROBLEMS | {
            409: "A request with this Idempotency-Key is still being processed",
            422: "A rule is broken (see errors), or the Idempotency-Key was used with another body"}))
    async def issue_links(self, staff: Staff, links: Links, data: JSONBody[IssueLinksIn], request: Request,
                          idempotency_key: IdempotencyKey = None) -> Response[IssuedLinks]:
        return await _issue(links, staff.tenant_id, data, request, idempotency_key)

    @get("/", summary="The tenant's links for one resource, newest first", responses=problem_responses(STAFF_PROBLEMS))
    async def list_links(self, staff: Staff, links: Links, resource_id: FromQuery[str], cursor: PageCursor = None,
                         limit: PageLimit = PAGE_LIMIT_DEFAULT) -> LinkList:
        before = decode_cursor(cursor, parts=2)
        rows = await handlers.links_for_resource(links, staff.tenant_id, resource_id, limit=limit + 1,
                                                 before=(cursor_time(before[0]), before[1]) if before else None)
        found, next_cursor = page(rows, limit, key=lambda link: (link.issued_at.isoformat(), link.link_id))
        now = links.clock()
        return LinkList(links=[LinkView.of(link, now) for link in found], next_cursor=next_cursor)

    @get("/{link_id:str}", summary="One link: status, opens, uses, delivery",
         responses=problem_responses(STAFF_PROBLEMS | {404: "No such link for this tenant"}))
    async def get_link(self, staff: Staff, links: Links, link_id: PathId) -> LinkView:
        return LinkView.of(await handlers.get_link(links, link_id, tenant_id=staff.tenant_id), links.clock())

    @post("/{link_id:str}/revoke", status_code=200, summary="Revoke a link (repeating it changes nothing)",
          responses=problem_responses(STAFF_PROBLEMS | {404: "No such link for this tenant"}))
    async def revoke_link(self, staff: Staff, links: Links, link_id: PathId, request: Request) -> LinkView:
        link = await handlers.revoke_link(links, staff.tenant_id, link_id, correlation_id=correlation_id_of(request))
        return LinkView.of(link, links.clock())

    @post("/{link_id:str}/verification/reset", status_code=200,
          summary="End the link's one-time code lock and forget its wrong codes",
          description="After five wrong codes a link refuses codes for a while (LINKS_CODE_LOCK_SECONDS, doubling "
                      "at each further lock up to LINKS_CODE_LOCK_MAX_SECONDS). Staff who know the recipient can "
                      "end that pause at once; the next lock is the shortest again. Appends LinkVerificationReset.",
          responses=problem_responses(STAFF_PROBLEMS | {404: "No such link for this tenant",
                                               410: "The link expired, was revoked or was used up"}))
    async def reset_verification(self, staff: Staff, links: Links, link_id: PathId, request: Request) -> LinkView:
        link = await handlers.reset_verification(links, staff.tenant_id, link_id,
                                                 correlation_id=correlation_id_of(request))
        return LinkView.of(link, links.clock())

    @post("/{link_id:str}/resend", status_code=202, summary="Send an active link again to its recipient",
          description="The same URL (no new token), by the channel it was first delivered by, saying that the firm "
                      "is still waiting. Only for links that links delivered; repeating it before the last one "
                      "went out sends one message.",
          responses=problem_responses(STAFF_PROBLEMS | {404: "No such link for this tenant",
                                               409: "The link was not delivered by links",
                                               410: "The link expired, was revoked or was used up"}))
    async def resend_link(self, staff: Staff, links: Links, link_id: PathId) -> LinkView:
        link = await handlers.resend_link(links, link_id, tenant_id=staff.tenant_id)
        return LinkView.of(link, links.clock())

    @get("/{link_id:str}/accesses", summary="When the link was opened and used, from which address and browser",
         description="Kept for LINKS_ACCESS_RECORD_RETENTION_DAYS.",
         responses=problem_responses(STAFF_PROBLEMS | {404: "No such link for this tenant"}))
    async def list_accesses(self, staff: Staff, links: Links, link_id: PathId, cursor: PageCursor = None,
                            limit: PageLimit = PAGE_LIMIT_DEFAULT) -> AccessList:
        after = decode_cursor(cursor, parts=2)
        rows = await handlers.accesses(links, staff.tenant_id, link_id, limit=limit + 1,
                                       after=(cursor_time(after[0]), cursor_int(after[1])) if after else None)
        found, next_cursor = page(rows, limit, key=lambda access: (access.at.isoformat(), str(access.id)))
        return AccessList(accesses=[AccessView(kind=a.kind, at=a.at, client_ip=a.client_ip,
                                               user_agent=a.user_agent) for a in found], next_cursor=next_cursor)


# ---- platform API -----------------------------------------------------------------------------------------


def platform_admin_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard for ``/platform``: the platform operator's own credential (LINKS_PLATFORM_ADMIN_KEY), not a tenant's."""
    expected = connection.app.state.runtime.settings.platform_admin_key.get_secret_value()
    presented = bearer_token(connection) or ""
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise NotAuthorizedException("the platform admin key is required: Authorization: Bearer <key>",
                                     headers={"WWW-Authenticate": "Bearer"})


class PlatformController(Controller):
    """For the platform's operator: tenants, without database access. Present only when LINKS_PLATFORM_ADMIN_KEY
    is set (``bootstrap.py``); otherwise these paths are 404 like any unknown path."""

    path = "/platform/v1/tenants"
    guards = [platform_admin_only]
    tags = ["platform"]

    @post("/", summary="A new tenant and its first API key, shown this once",
          description="Authorization: Bearer <LINKS_PLATFORM_ADMIN_KEY>. The tenant changes its own profile later "
                      "with PATCH /v1/tenant, and makes more keys with POST /v1/api-keys.",
          responses=problem_responses({401: "Missing or wrong platform admin key",
                                       409: "A tenant with this id exists"}))
    async def create_tenant(self, links: Links, data: JSONBody[NewTenantIn]) -> NewTenant:
        tenant = data.to_tenant()
        key, info = await links.tenants.create(tenant)
        return NewTenant(tenant=TenantView.of(tenant),
                         api_key=NewApiKey(key_id=info.key_id, created_at=info.created_at, api_key=key.value))

    @post("/{tenant_id:str}/api-keys", summary="Another API key for a tenant (one lost its keys), shown this once",
          responses=problem_responses({401: "Missing or wrong platform admin key", 404: "No such tenant"}))
    async def create_api_key(self, links: Links, api_keys: Keys, tenant_id: PathId) -> NewApiKey:
        if await links.tenants.get(tenant_id) is None:
            raise NotFound("no such tenant")
        key, info = await api_keys.create(tenant_id)
        return NewApiKey(key_id=info.key_id, created_at=info.created_at, api_key=key.value)


# ---- internal API -----------------------------------------------------------------------------------------


class InternalController(Controller):
    """For the gateway and the other services only (``Authorization: Bearer <LINKS_INTERNAL_API_SECRET>``)."""

    path = "/internal/v1"
    guards = [internal_only]
    include_in_schema = False

    @post("/api-keys/verify", status_code=200)
    async def verify_api_key(self, api_keys: Keys, data: JSONBody[ApiKeyIn]) -> StaffPrincipalView:
        principal = await api_keys.verify(data.api_key)
        if principal is None:
            raise NotAuthorizedException("the API key is not valid")
        return StaffPrincipalView(tenant_id=principal.tenant_id, key_id=principal.key_id)

    @post("/links/resolve", status_code=200)
    async def resolve(self, links: Links, data: JSONBody[TokenIn]) -> LinkView:
        return LinkView.of(await handlers.resolve_token(links, data.token), links.clock())

    @get("/links/{link_id:str}")
    async def get_link(self, links: Links, link_id: PathId) -> LinkView:
        return LinkView.of(await handlers.get_link(links, link_id), links.clock())

    @post("/links/{link_id:str}/opened", status_code=204)
    async def opened(self, links: Links, link_id: PathId, request: Request,
                     data: JSONBody[ClientIn | None] = None) -> None:
        await handlers.record_open(links, link_id, client_of(data), correlation_id=correlation_id_of(request))

    @post("/links/{link_id:str}/use", status_code=200)
    async def use(self, links: Links, link_id: PathId, request: Request,
                  data: JSONBody[ClientIn | None] = None) -> LinkView:
        link = await handlers.use_link(links, link_id, client_of(data), correlation_id=correlation_id_of(request))
        return LinkView.of(link, links.clock())

    @post("/links/{link_id:str}/verification-code", status_code=202)
    async def send_code(self, links: Links, link_id: PathId) -> None:
        await handlers.send_verification_code(links, link_id)

    @post("/links/{link_id:str}/verification-code/check", status_code=200)
    async def check_code(self, links: Links, link_id: PathId, data: JSONBody[CodeIn], request: Request) -> Verified:
        await handlers.check_verification_code(links, link_id, data.code, correlation_id=correlation_id_of(request))
        return Verified()

    @post("/tenants/{tenant_id:str}/links", status_code=201)
    async def issue_links(self, links: Links, tenant_id: PathId, data: JSONBody[IssueLinksIn], request: Request,
                          idempotency_key: IdempotencyKey = None) -> Response[IssuedLinks]:
        """What the staff API's POST /v1/links does, for a service acting on the tenant's behalf."""
        if await links.tenants.get(tenant_id) is None:
            raise NotFound("no such tenant")
        return await _issue(links, tenant_id, data, request, idempotency_key)

    @post("/tenants/{tenant_id:str}/links/{link_id:str}/revoke", status_code=200)
    async def revoke_link(self, links: Links, tenant_id: PathId, link_id: PathId, request: Request) -> LinkView:
        link = await handlers.revoke_link(links, tenant_id, link_id, correlation_id=correlation_id_of(request))
        return LinkView.of(link, links.clock())

    @post("/tenants/{tenant_id:str}/links/{link_id:str}/resend", status_code=202)
    async def resend_link(self, links: Links, tenant_id: PathId, link_id: PathId) -> LinkView:
        return LinkView.of(await handlers.resend_link(links, link_id, tenant_id=tenant_id), links.clock())

    @get("/tenants/{tenant_id:str}/branding")
    async def branding(self, links: Links, tenant_id: PathId) -> Branding:
        tenant = await links.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        return branding_of(tenant)


async def _issue(links: LinksContext, tenant_id: str, data: IssueLinksIn, request: Request,
                 idempotency_key: str | None) -> Response[IssuedLinks]:
    answer = await handlers.issue_links(links, tenant_id, data.to_domain(),
                                        correlation_id=correlation_id_of(request), idempotency_key=idempotency_key)
    return answer.response()


ROUTE_HANDLERS = [TenantController, ApiKeyController, LinkController, InternalController]
