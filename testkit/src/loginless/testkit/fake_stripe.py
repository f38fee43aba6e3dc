"""A stateful stand-in for the few Stripe API calls the payments service's Stripe adapter makes (its ``StripeApi``),
and Stripe's webhooks signed as Stripe signs them.

stripe-mock checks the calls' shapes against Stripe's OpenAPI description but keeps no state (a retrieve answers a
fixture), and localstripe has no Checkout Sessions nor disputes; the adapter's "fetch the object again" and the
sweep need a Stripe that remembers. This one remembers sessions, their PaymentIntents, refunds and disputes; a
test moves them as a guest or Stripe would (``pay``, ``decline``, ``expire``, ``refund``, ``dispute``) and sends
the webhook. Objects carry the fields the adapter reads, named as in Stripe's API.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
from typing import Any


def _id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(10)}"


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds_of: dict[str, list[dict[str, Any]]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.created: list[tuple[str, dict[str, Any]]] = []  # (idempotency key, params) of each creation asked
        self.failure: Exception | None = None  # raised by the next calls while set (Stripe down)
        self.expired_by_api: list[str] = []  # the sessions the adapter asked to expire
        self._by_key: dict[str, tuple[dict[str, Any], str]] = {}

    # ---- the calls (StripeApi) --------------------------------------------------------------------------

    async def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        self._maybe_fail()
        self.created.append((idempotency_key, copy.deepcopy(params)))
        if idempotency_key in self._by_key:  # Stripe answers a replayed key with the first answer
            first, session_id = self._by_key[idempotency_key]
            if first != params:
                raise AssertionError("an idempotency key reused with other parameters (Stripe answers 400)")
            return copy.deepcopy(self.sessions[session_id])
        session_id = _id("cs")
        price = params["line_items"][0]["price_data"]
        self.sessions[session_id] = {
            "id": session_id, "object": "checkout.session", "status": "open", "payment_status": "unpaid",
            "url": f"https://checkout.stripe.test/c/pay/{session_id}", "mode": params["mode"],
            "client_reference_id": params.get("client_reference_id"), "metadata": dict(params.get("metadata", {})),
            "amount_total": price["unit_amount"] * params["line_items"][0]["quantity"],
            "currency": price["currency"], "payment_intent": None, "success_url": params["success_url"],
            "cancel_url": params["cancel_url"], "expires_at": params.get("expires_at"),
            "_intent_metadata": dict(params.get("payment_intent_data", {}).get("metadata", {})),
        }
        self._by_key[idempotency_key] = (copy.deepcopy(params), session_id)
        return self._public(self.sessions[session_id])

    async def checkout_session(self, session_id: str) -> dict[str, Any]:
        self._maybe_fail()
        session = self._public(self.sessions[session_id])
        if session["payment_intent"] is not None:
            session["payment_intent"] = copy.deepcopy(self.intents[session["payment_intent"]])
        return session

    async def payment_intent(self, intent_id: str) -> dict[str, Any]:
        self._maybe_fail()
        return copy.deepcopy(self.intents[intent_id])

    async def refunds(self, intent_id: str) -> list[dict[str, Any]]:
        self._maybe_fail()
        return copy.deepcopy(self.refunds_of.get(intent_id, []))

    async def create_refund(self, params: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        self._maybe_fail()
        self.created.append((idempotency_key, copy.deepcopy(params)))
        if idempotency_key in self._by_key:
            return next(r for r in self.refunds_of[params["payment_intent"]] if r["id"] == self._by_key[
                idempotency_key][1])
        refund_id = self.refund(params["payment_intent"], params["amount"], metadata=params.get("metadata"))
        self._by_key[idempotency_key] = (copy.deepcopy(params), refund_id)
        return copy.deepcopy(self.refunds_of[params["payment_intent"]][-1])

    async def dispute(self, dispute_id: str) -> dict[str, Any]:
        self._maybe_fail()
        return copy.deepcopy(self.disputes[dispute_id])

    async def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        self._maybe_fail()
        self.expired_by_api.append(session_id)
        if self.sessions[session_id]["status"] != "open":  # Stripe: 400, only an open session can be expired
            from loginless.payments.ports import ProviderFailed  # what StripeSdkApi makes of Stripe's 400

            raise ProviderFailed("Stripe: only an open session can be expired", stripe_code="resource_invalid_state")
        self.expire(session_id)
        return self._public(self.sessions[session_id])

    # ---- what a guest or Stripe does ----------------------------------------------------------------------

    def pay(self, session_id: str, *, amount: int | None = None, currency: str | None = None,
            status: str = "succeeded") -> str:
        """The guest pays on the session's page (``status`` "processing" for a payment method that settles later);
        ``amount``/``currency`` other than the session's stand for a provider that took something else. Returns the
        PaymentIntent's id."""
        session = self.sessions[session_id]
        intent = self._intent_of(session)
        taken = session["amount_total"] if amount is None else amount
        intent.update(status=status, amount_received=taken if status == "succeeded" else 0,
                      currency=currency or session["currency"], latest_charge=_id("ch"))
        session.update(status="complete", payment_status="paid" if status == "succeeded" else "unpaid")
        return intent["id"]

    def fail_later(self, session_id: str) -> None:
        """A payment method that settles later (a bank debit), completed on the page, then failed."""
        intent = self._intent_of(self.sessions[session_id])
        intent.update(status="requires_payment_method", amount_received=0,
                      last_payment_error={"code": "debit_not_authorized"})

    def decline(self, session_id: str) -> str:
        """A declined card: the PaymentIntent waits for another card, the page stays open."""
        intent = self._intent_of(self.sessions[session_id])
        intent.update(status="requires_payment_method", last_payment_error={"code": "card_declined"})
        return intent["id"]

    def expire(self, session_id: str) -> None:
        session = self.sessions[session_id]
        session["status"] = "expired"
        if session["payment_intent"] is not None and self.intents[session["payment_intent"]]["status"] != "succeeded":
            self.intents[session["payment_intent"]].update(status="canceled", cancellation_reason="abandoned")

    def refund(self, intent_id: str, amount: int, *, metadata: dict[str, str] | None = None) -> str:
        """A refund made at Stripe (its dashboard, or asked for through the API with ``metadata``)."""
        refund = {"id": _id("re"), "object": "refund", "amount": amount, "status": "succeeded",
                  "currency": self.intents[intent_id]["currency"], "payment_intent": intent_id,
                  "reason": "requested_by_customer", "metadata": dict(metadata or {})}
        self.refunds_of.setdefault(intent_id, []).append(refund)
        return refund["id"]

    def open_dispute(self, intent_id: str, *, status: str = "needs_response") -> str:
        intent = self.intents[intent_id]
        dispute = {"id": _id("dp"), "object": "dispute", "amount": intent["amount_received"],
                   "currency": intent["currency"], "payment_intent": intent_id, "status": status,
                   "reason": "fraudulent"}
        self.disputes[dispute["id"]] = dispute
        return dispute["id"]

    # ---- webhooks -----------------------------------------------------------------------------------------

    def event(self, kind: str, object_id: str, **stale: Any) -> dict[str, Any]:  # noqa: ANN401
        """A webhook event about an object, with a snapshot of it as Stripe would send it; ``stale`` overrides
        fields of the snapshot (what the object was when an older event was sent)."""
        if object_id.startswith("cs_"):
            snapshot = self._public(self.sessions[object_id])
        elif object_id.startswith("pi_"):
            snapshot = copy.deepcopy(self.intents[object_id])
        elif object_id.startswith("dp_"):
            snapshot = copy.deepcopy(self.disputes[object_id])
        else:
            snapshot = {"id": object_id}
        snapshot.update(stale)
        return {"id": _id("evt"), "object": "event", "type": kind, "api_version": "2026-10-28.endive",
                "created": int(time.time()), "livemode": False, "data": {"object": snapshot}}

    def charge_event(self, kind: str, intent_id: str) -> dict[str, Any]:
        """``charge.refunded`` and the like: the charge of the PaymentIntent."""
        intent = self.intents[intent_id]
        charge = {"id": intent.get("latest_charge") or _id("ch"), "object": "charge", "payment_intent": intent_id,
                  "amount": intent["amount"], "amount_refunded": sum(r["amount"] for r in
                                                                     self.refunds_of.get(intent_id, []))}
        return {"id": _id("evt"), "object": "event", "type": kind, "api_version": "2026-10-28.endive",
                "created": int(time.time()), "livemode": False, "data": {"object": charge}}

    # ---- internals ----------------------------------------------------------------------------------------

    def _intent_of(self, session: dict[str, Any]) -> dict[str, Any]:
        if session["payment_intent"] is None:  # Checkout makes the PaymentIntent when the guest confirms
            intent_id = _id("pi")
            self.intents[intent_id] = {
                "id": intent_id, "object": "payment_intent", "amount": session["amount_total"],
                "amount_received": 0, "currency": session["currency"], "status": "requires_payment_method",
                "metadata": dict(session["_intent_metadata"]), "cancellation_reason": None}
            session["payment_intent"] = intent_id
        return self.intents[session["payment_intent"]]

    def _maybe_fail(self) -> None:
        if self.failure is not None:
            raise self.failure

    @staticmethod
    def _public(session: dict[str, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value) for key, value in session.items() if not key.startswith("_")}


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<unix time>,v1=<HMAC-SHA256(secret, "t.payload")>``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def signed_webhook(event: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of Stripe's delivery of ``event``."""
    payload = json.dumps(event).encode()
    return payload, {"stripe-signature": stripe_signature(payload, secret, timestamp),
                     "content-type": "application/json"}
