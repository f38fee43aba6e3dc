"""The certificate of completion: a separate PDF that tells who did what to an envelope, when, from where and how
they were identified, with the SHA-256 of every document before and after signing.

It is separate because a file cannot carry its own hash: the sealed documents' digests are known only once they are
sealed, and then this certificate is made and sealed in turn. Its content follows what signing services put on
theirs: the envelope and its sender, each recipient's events with time (UTC, ISO 8601), IP address and user agent,
the verification method and the recorded consent, the documents' digests and the outcome.

Drawn with reportlab's platypus (tables that break across pages, repeated header rows) in invariant mode, so the same
trail gives the same bytes. Every value from the trail is escaped before it reaches platypus's markup.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from xml.sax.saxutils import escape

from loginless.signing.pdf.certificate_labels import LABELS, Language

RecipientRole = Literal["signer", "approver", "copy"]
VerificationMethod = Literal["link", "email_code", "sms_code"]
Outcome = Literal["completed", "declined", "voided"]


@dataclass(frozen=True)
class TrailEvent:
    at: datetime  # timezone-aware
    action: str  # sent, opened, verified, consented, viewed, signed, approved, declined, ... (shown translated)
    ip_address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class TrailRecipient:
    name: str
    email: str
    role: RecipientRole
    status: str  # pending, signed, approved, declined, ... (shown translated)
    verification: VerificationMethod
    consented_at: datetime | None
    events: tuple[TrailEvent, ...] = ()


@dataclass(frozen=True)
class TrailDocument:
    name: str
    original_sha256: str
    sealed_sha256: str | None  # None when the envelope was declined or voided before sealing


@dataclass(frozen=True)
class AuditTrail:
    envelope_id: str
    title: str
    sender_name: str
    sender_email: str
    sent_at: datetime
    outcome: Outcome
    outcome_at: datetime
    documents: tuple[TrailDocument, ...]
    recipients: tuple[TrailRecipient, ...]
    generated_at: datetime  # printed on every page; passed in so the same trail gives the same file
    outcome_reason: str | None = None  # why it was declined or voided
    firm_name: str | None = None
    language: Language = "en"


def audit_certificate(trail: AuditTrail) -> bytes:
    """The certificate as a PDF, one or more A4 pages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    labels = LABELS[trail.language]
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=A4, invariant=1, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
        bottomMargin=20 * mm, title=f"{labels['title']}: {trail.title}", author=trail.firm_name or "loginless",
        subject=trail.envelope_id, creator="loginless", producer="loginless")

    def footer(canvas, doc) -> None:  # noqa: ANN001
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColorRGB(0.35, 0.35, 0.35)
        canvas.drawString(18 * mm, 12 * mm, f"{labels['envelope_id']}: {trail.envelope_id}  ·  "
                                           f"{labels['generated']}: {_time(trail.generated_at)}")
        canvas.drawRightString(A4[0] - 18 * mm, 12 * mm, f"{labels['page']} {doc.page}")
        canvas.restoreState()

    document.build(_story(trail, labels, document.width), onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _story(trail: AuditTrail, labels: dict[str, str], width: float) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, Spacer

    styles = _styles()
    status = labels[f"outcome_{trail.outcome}"]
    if trail.outcome_reason:
        status += f" — {trail.outcome_reason}"
    story: list = [Paragraph(escape(labels["title"]), styles["title"]),
                   Paragraph(escape(trail.title), styles["subtitle"]),
                   _pairs([
                       (labels["envelope_id"], trail.envelope_id),
                       (labels["firm"], trail.firm_name or "—"),
                       (labels["sender"], f"{trail.sender_name} <{trail.sender_email}>"),
                       (labels["sent_at"], _time(trail.sent_at)),
                       (labels["status"], status),
                       (labels[f"outcome_at_{trail.outcome}"], _time(trail.outcome_at)),
                   ], styles, width),
                   Spacer(1, 5 * mm),
                   Paragraph(escape(labels["documents"]), styles["heading"])]
    for document in trail.documents:  # a digest needs a full line to stay on one
        story += [_pairs([(labels["document"], document.name),
                          (labels["original_sha256"], document.original_sha256),
                          (labels["sealed_sha256"], document.sealed_sha256 or "—")], styles, width, mono_rows={1, 2}),
                  Spacer(1, 2 * mm)]
    story += [Spacer(1, 5 * mm), Paragraph(escape(labels["recipients"]), styles["heading"])]
    for number, recipient in enumerate(trail.recipients, 1):
        heading = Paragraph(f"{number}. {escape(recipient.name)} &lt;{escape(recipient.email)}&gt;", styles["name"])
        facts = _pairs([
            (labels["role"], labels.get(f"role_{recipient.role}", recipient.role)),
            (labels["status"], labels.get(f"status_{recipient.status}", recipient.status)),
            (labels["verification"], labels[f"verification_{recipient.verification}"]),
            (labels["consent"], _time(recipient.consented_at) if recipient.consented_at else labels["not_recorded"]),
        ], styles, width)
        event_rows = [[labels["time"], labels["event"], labels["ip_address"], labels["user_agent"]]]
        event_rows += [[_time(e.at), labels.get(f"event_{e.action}", e.action), e.ip_address or "—",
                        e.user_agent or "—"] for e in sorted(recipient.events, key=lambda e: e.at)]
        events = (_table(event_rows, [0.2, 0.14, 0.16, 0.5], styles, width) if recipient.events
                  else Paragraph(escape(labels["no_events"]), styles["small"]))
        story += [KeepTogether([heading, facts]), Spacer(1, 2 * mm), events, Spacer(1, 4 * mm)]
    story.append(Paragraph(escape(labels["footnote"]), styles["small"]))
    return story


def _pairs(rows: list[tuple[str, str]], styles: dict, width: float, *,  # noqa: ANN202
           mono_rows: frozenset[int] | set[int] = frozenset()):
    from reportlab.platypus import Paragraph, Table, TableStyle

    table = Table([[Paragraph(escape(label), styles["label"]),
                    Paragraph(escape(value), styles["mono" if index in mono_rows else "cell"])]
                   for index, (label, value) in enumerate(rows)], colWidths=[0.28 * width, 0.72 * width])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1), ("TOPPADDING", (0, 0), (-1, -1), 1)]))
    return table


def _table(rows: list[list[str]], shares: list[float], styles: dict, width: float):  # noqa: ANN202
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    header, *body = rows
    cells = [[Paragraph(escape(value), styles["header"]) for value in header]]
    cells += [[Paragraph(escape(value), styles["cell"]) for value in row] for row in body]
    table = Table(cells, colWidths=[share * width for share in shares], repeatRows=1)
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.92, 0.95)),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.Color(0.75, 0.75, 0.75)),
    ]))
    return table


def _styles() -> dict:
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=10)
    return {
        "title": ParagraphStyle("title", parent=base, fontName="Helvetica-Bold", fontSize=16, leading=20),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=11, leading=16, spaceAfter=8),
        "heading": ParagraphStyle("heading", parent=base, fontName="Helvetica-Bold", fontSize=11, leading=15,
                                  spaceAfter=4),
        "name": ParagraphStyle("name", parent=base, fontName="Helvetica-Bold", fontSize=9, leading=12, spaceAfter=2),
        "label": ParagraphStyle("label", parent=base, textColor=(0.35, 0.35, 0.35)),
        "header": ParagraphStyle("header", parent=base, fontName="Helvetica-Bold"),
        "cell": base,
        "mono": ParagraphStyle("mono", parent=base, fontName="Courier", fontSize=7.5),  # 64 hex digits: 288 pt
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=9, textColor=(0.35, 0.35, 0.35)),
    }


def _time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit trail times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
