"""The audit certificate's words, in English and Spanish."""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "es"]

LABELS: dict[Language, dict[str, str]] = {
    "en": {
        "title": "Certificate of completion", "envelope_id": "Envelope", "firm": "Firm", "sender": "Sent by",
        "sent_at": "Sent", "status": "Status", "generated": "Generated", "page": "Page",
        "outcome_completed": "Completed", "outcome_declined": "Declined", "outcome_voided": "Voided",
        "outcome_at_completed": "Completed at", "outcome_at_declined": "Declined at", "outcome_at_voided": "Voided at",
        "documents": "Documents", "document": "Document", "original_sha256": "SHA-256 of the original",
        "sealed_sha256": "SHA-256 of the sealed document", "recipients": "Recipients and their events",
        "role": "Role", "role_signer": "Signer", "role_approver": "Approver", "role_copy": "Receives a copy",
        "verification": "Identified by", "verification_link": "Their personal link only",
        "verification_email_code": "Their link and a one-time code sent by e-mail",
        "verification_sms_code": "Their link and a one-time code sent by SMS",
        "consent": "Consent to sign electronically", "not_recorded": "not recorded",
        "time": "Time (UTC)", "event": "Event", "ip_address": "IP address", "user_agent": "Browser (user agent)",
        "no_events": "No events recorded.",
        "status_pending": "Pending", "status_signed": "Signed", "status_approved": "Approved",
        "status_declined": "Declined", "status_completed": "Completed", "status_voided": "Voided",
        "event_sent": "Sent", "event_delivered": "Delivered", "event_opened": "Opened", "event_verified": "Verified",
        "event_consented": "Consented", "event_viewed": "Viewed", "event_signed": "Signed",
        "event_approved": "Approved", "event_declined": "Declined", "event_voided": "Voided",
        "event_reminded": "Reminded", "event_completed": "Completed",
        "footnote": "Times are in UTC. Each SHA-256 digest identifies a file exactly: compute it over a copy to "
                    "check that the copy is the document described here. This certificate and each sealed document "
                    "carry the firm's electronic seal; any later change to them shows in a PDF reader's signature "
                    "panel.",
    },
    "es": {
        "title": "Certificado de finalización", "envelope_id": "Sobre", "firm": "Firma profesional",
        "sender": "Enviado por", "sent_at": "Enviado", "status": "Estado", "generated": "Generado", "page": "Página",
        "outcome_completed": "Completado", "outcome_declined": "Rechazado", "outcome_voided": "Anulado",
        "outcome_at_completed": "Completado el", "outcome_at_declined": "Rechazado el",
        "outcome_at_voided": "Anulado el",
        "documents": "Documentos", "document": "Documento", "original_sha256": "SHA-256 del original",
        "sealed_sha256": "SHA-256 del documento sellado", "recipients": "Destinatarios y sus eventos",
        "role": "Función", "role_signer": "Firmante", "role_approver": "Aprobador", "role_copy": "Recibe copia",
        "verification": "Identificado por", "verification_link": "Solo su enlace personal",
        "verification_email_code": "Su enlace y un código de un solo uso por correo electrónico",
        "verification_sms_code": "Su enlace y un código de un solo uso por SMS",
        "consent": "Consentimiento para firmar electrónicamente", "not_recorded": "no registrado",
        "time": "Hora (UTC)", "event": "Evento", "ip_address": "Dirección IP",
        "user_agent": "Navegador (user agent)", "no_events": "No hay eventos registrados.",
        "status_pending": "Pendiente", "status_signed": "Firmado", "status_approved": "Aprobado",
        "status_declined": "Rechazado", "status_completed": "Completado", "status_voided": "Anulado",
        "event_sent": "Enviado", "event_delivered": "Entregado", "event_opened": "Abierto",
        "event_verified": "Verificado", "event_consented": "Consentimiento", "event_viewed": "Visto",
        "event_signed": "Firmado", "event_approved": "Aprobado", "event_declined": "Rechazado",
        "event_voided": "Anulado", "event_reminded": "Recordatorio", "event_completed": "Completado",
        "footnote": "Las horas están en UTC. Cada resumen SHA-256 identifica un archivo con exactitud: calcúlelo "
                    "sobre una copia para comprobar que es el documento aquí descrito. Este certificado y cada "
                    "documento sellado llevan el sello electrónico de la firma; cualquier cambio posterior se ve en "
                    "el panel de firmas de un lector de PDF.",
    },
}
