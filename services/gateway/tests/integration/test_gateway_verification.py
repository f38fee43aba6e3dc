"""Recipient verification: a link that wants a one-time code shows nothing else until the right code is entered."""

from datetime import UTC, datetime, timedelta

import pytest

from loginless.gateway.read_model import LinkFacts

pytestmark = pytest.mark.integration


def wrong_code_for(gateway, link_id: str) -> str:
    """A code that is not the one sent (any code is wrong while none was sent)."""
    code = gateway.links.last_code(link_id) or "000000"
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def open_verifying_link(gateway, http, **issue):
    token, link = gateway.links.add_link(verification="email", email="maria@example.com", **issue)
    entering = await http.get(f"/l/{token}")
    assert entering.status_code == 200
    assert f'url=/g/{link.link_id}/verify"' in entering.text
    return link, entering.headers["set-cookie"].split(";")[0]


async def test_nothing_is_shown_until_the_right_code_is_entered(gateway):
    async with gateway.client() as http:
        link, cookie = await open_verifying_link(gateway, http)
        guarded = {"cookie": cookie}
        assert ("use", link.link_id) not in gateway.links.calls  # not let in yet

        before = await http.get(f"/g/{link.link_id}/documents", headers=guarded)
        assert before.status_code == 303 and before.headers["location"] == f"/g/{link.link_id}/verify"

        page = await http.get(f"/g/{link.link_id}/verify", headers=guarded)
        assert page.status_code == 200
        assert "Confirm it's you" in page.text and "m•••@example.com" in page.text
        assert "maria@example.com" not in page.text

        sent = await http.post(f"/g/{link.link_id}/verify/code", headers=guarded)
        assert sent.status_code == 303 and sent.headers["location"] == f"/g/{link.link_id}/verify?sent=1"
        assert gateway.links.codes_sent(link.link_id) == 1
        page = await http.get(sent.headers["location"], headers=guarded)
        assert "We sent a 6-digit code to m•••@example.com" in page.text

        wrong = await http.post(f"/g/{link.link_id}/verify", data={"code": wrong_code_for(gateway, link.link_id)},
                                headers=guarded)
        assert wrong.status_code == 422
        assert "That code is not right. You have 4 attempts left." in wrong.text
        assert 'aria-invalid="true"' in wrong.text

        malformed = await http.post(f"/g/{link.link_id}/verify", data={"code": "12ab"}, headers=guarded)
        assert malformed.status_code == 422 and "Enter the 6 digits of the code." in malformed.text
        assert gateway.links.wrong_codes(link.link_id) == 1  # a typo costs no attempt

        code = gateway.links.last_code(link.link_id)
        right = await http.post(f"/g/{link.link_id}/verify", data={"code": f"{code[:3]} {code[3:]}"},
                                headers=guarded)
        assert right.status_code == 303 and right.headers["location"] == f"/g/{link.link_id}/"
        attributes = [part.strip().lower() for part in right.headers["set-cookie"].split(";")]
        assert "httponly" in attributes and "samesite=strict" in attributes
        assert ("use", link.link_id) in gateway.links.calls

        inside = await http.get(f"/g/{link.link_id}/documents",
                                headers={"cookie": right.headers["set-cookie"].split(";")[0]})
        assert inside.status_code == 200 and inside.json()["assertion"]["link_id"] == link.link_id


async def test_the_code_page_needs_the_cookie_of_the_link(gateway):
    async with gateway.client() as http:
        link, _ = await open_verifying_link(gateway, http)
        http.cookies.clear()
        page = await http.get(f"/g/{link.link_id}/verify")
        post = await http.post(f"/g/{link.link_id}/verify", data={"code": "123456"})
    assert (page.status_code, post.status_code) == (403, 403)
    assert ("check_verification_code", link.link_id) not in gateway.links.calls  # nothing reached links
    assert gateway.links.wrong_codes(link.link_id) == 0


async def test_too_many_wrong_codes_pause_the_codes_and_the_page_says_for_how_long(gateway):
    async with gateway.client() as http:
        link, cookie = await open_verifying_link(gateway, http, language="es")  # in the recipient's language
        guarded = {"cookie": cookie, "accept-language": "en"}
        answers = [await http.post(f"/g/{link.link_id}/verify", data={"code": wrong_code_for(gateway, link.link_id)},
                                   headers=guarded) for _ in range(5)]
        resend = await http.post(f"/g/{link.link_id}/verify/code", headers=guarded)
    assert [answer.status_code for answer in answers] == [422, 422, 422, 422, 423]
    assert "Le queda 1 intento." in answers[3].text
    locked = answers[4].text
    assert "Demasiados códigos incorrectos" in locked
    assert "Vuelva a intentarlo dentro de 15 minutos." in locked  # links' first pause, not "ask for a new link"
    assert "enlace nuevo" not in locked
    assert answers[4].headers["retry-after"] == "900"
    assert resend.status_code == 423


async def test_the_read_model_lock_shows_its_time_and_a_staff_reset_opens_the_code_page_again(gateway):
    """The lock as links.events tell the read model (no call to links): the page counts the minutes left; the
    reset event, newer, wins over it."""
    async with gateway.client() as http:
        link, cookie = await open_verifying_link(gateway, http)
        guarded = {"cookie": cookie, "accept-language": "en"}
        now = datetime.now(UTC)
        await gateway.link_states.merge(LinkFacts(link_id=link.link_id, tenant_id=link.tenant_id,
                                                  verification_locked_at=now - timedelta(minutes=8),
                                                  verification_locked_until=now + timedelta(minutes=7)))
        calls_before = len(gateway.links.calls)
        locked = await http.get(f"/g/{link.link_id}/verify", headers=guarded)
        sending = await http.post(f"/g/{link.link_id}/verify/code", headers=guarded)
        assert (locked.status_code, sending.status_code) == (423, 423)
        assert "Too many wrong codes" in locked.text and "Please try again in 7 minutes." in locked.text
        assert "Acme Tax Advisors can let you try again at once." in locked.text
        assert 400 < int(locked.headers["retry-after"]) <= 420
        assert not [call for call in gateway.links.calls[calls_before:] if call[0] != "branding"]

        # An older lock learnt late (a replay) changes nothing; the reset, newer, opens the page again.
        await gateway.link_states.merge(LinkFacts(link_id=link.link_id, tenant_id=link.tenant_id,
                                                  verification_locked_at=now, verification_locked_until=now))
        await gateway.link_states.merge(LinkFacts(link_id=link.link_id, tenant_id=link.tenant_id,
                                                  verification_locked_at=now - timedelta(minutes=8),
                                                  verification_locked_until=now + timedelta(minutes=7)))
        page = await http.get(f"/g/{link.link_id}/verify", headers=guarded)
        assert page.status_code == 200 and "Confirm it's you" in page.text


def _cookie_named(response, name: str) -> str:  # noqa: ANN001
    [value] = [header.split(";")[0] for header in response.headers.get_list("set-cookie")
               if header.startswith(f"{name}=")]
    return value


async def test_a_guest_already_verified_is_not_asked_again(gateway):
    async with gateway.client() as http:
        link, cookie = await open_verifying_link(gateway, http)
        await http.post(f"/g/{link.link_id}/verify/code", headers={"cookie": cookie})
        right = await http.post(f"/g/{link.link_id}/verify", data={"code": gateway.links.last_code(link.link_id)},
                                headers={"cookie": cookie})
        # The code proved the browser too: a service that asks new devices for a code will not ask this one.
        held = f"{_cookie_named(right, 'loginless_link')}; {_cookie_named(right, 'loginless_device')}"
        page = await http.get(f"/g/{link.link_id}/verify", headers={"cookie": held})
        inside = await http.get(f"/g/{link.link_id}/documents", headers={"cookie": held})
    assert page.status_code == 303 and page.headers["location"] == f"/g/{link.link_id}/"
    assert inside.json()["assertion"]["device_proven"] is True


async def test_a_guest_let_in_by_the_link_alone_may_prove_a_new_browser_with_a_code_without_using_the_link_again(
        gateway):
    async with gateway.client() as http:
        token, link = gateway.links.add_link(email="maria@example.com")
        cookie = await gateway.enter(http, token)
        uses = gateway.links.calls.count(("use", link.link_id))
        before = await http.get(f"/g/{link.link_id}/documents", headers={"cookie": cookie})
        assert before.json()["assertion"]["device_proven"] is False

        # What a service's page sends a new browser to (a request's answers on a second device).
        page = await http.get(f"/g/{link.link_id}/verify", headers={"cookie": cookie})
        assert page.status_code == 200 and "m•••@example.com" in page.text
        sent = await http.post(f"/g/{link.link_id}/verify/code", headers={"cookie": cookie})
        assert sent.status_code == 303 and gateway.links.codes_sent(link.link_id) == 1
        wrong = await http.post(f"/g/{link.link_id}/verify", data={"code": wrong_code_for(gateway, link.link_id)},
                                headers={"cookie": cookie})
        assert wrong.status_code == 422 and "set-cookie" not in wrong.headers
        right = await http.post(f"/g/{link.link_id}/verify", data={"code": gateway.links.last_code(link.link_id)},
                                headers={"cookie": cookie})
        assert right.status_code == 303 and right.headers["location"] == f"/g/{link.link_id}/"
        device = _cookie_named(right, "loginless_device")
        assert [h for h in right.headers.get_list("set-cookie") if h.startswith("loginless_link=")] == []
        assert gateway.links.calls.count(("use", link.link_id)) == uses  # one entry, one use

        after = await http.get(f"/g/{link.link_id}/documents", headers={"cookie": f"{cookie}; {device}"})
        assert after.json()["assertion"]["device_proven"] is True


async def test_asking_for_another_code_too_soon_says_to_wait(gateway):
    async with gateway.client() as http:
        link, cookie = await open_verifying_link(gateway, http)
        first = await http.post(f"/g/{link.link_id}/verify/code", headers={"cookie": cookie})
        # The guest switched to Spanish on an earlier page: the remembered choice beats the recipient's English.
        again = await http.post(f"/g/{link.link_id}/verify/code", headers={"cookie": f"{cookie}; loginless_lang=es"})
    assert first.status_code == 303
    assert again.status_code == 429
    assert "Le enviamos un código hace un momento." in again.text
    assert 'name="code"' in again.text  # the code already sent can still be entered
