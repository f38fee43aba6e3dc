"""Reading the local mail server (Mailpit) the way a recipient would: every message to an address, whole."""

from __future__ import annotations

import httpx


async def mails_to(mail_ui_url: str, address: str) -> list[dict]:
    """Every message Mailpit holds for ``address``, oldest first, each with its ``Headers`` (name -> values),
    ``Subject``, ``Text`` and ``HTML``."""
    async with httpx.AsyncClient(base_url=mail_ui_url, timeout=10) as mailpit:
        found = (await mailpit.get("/api/v1/search", params={"query": f"to:{address}"})).json()["messages"]
        mails = []
        for summary in reversed(found):  # Mailpit lists the newest first
            message = (await mailpit.get(f"/api/v1/message/{summary['ID']}")).json()
            message["Headers"] = (await mailpit.get(f"/api/v1/message/{summary['ID']}/headers")).json()
            mails.append(message)
        return mails
