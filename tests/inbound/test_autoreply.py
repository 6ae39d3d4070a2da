"""Automatic replies are told from a person's reply by headers and subject."""

import pytest

from outreach.inbound.autoreply import is_auto_reply


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Auto-Submitted": "auto-generated"},
        {"auto-submitted": 'Auto-Replied; owner-email="a@example.com"'},
        {"X-Autoreply": "yes"},
        {"X-Autorespond": "Vacation"},
        {"Precedence": "auto_reply"},
        {"Precedence": "bulk"},
        {"Precedence": "Junk"},
        {"X-Auto-Response-Suppress": "OOF"},
        {"X-Auto-Response-Suppress": "DR, AutoReply"},
        {"X-Auto-Response-Suppress": "All"},
    ],
)
def test_automatic_reply_headers_are_recognised(headers: dict[str, str]) -> None:
    assert is_auto_reply(headers, "Re: Your application")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Auto-Submitted": "no"},
        {"Auto-Submitted": " No "},
        {"Precedence": "list"},
        {"X-Auto-Response-Suppress": "DR, RN"},
        {"In-Reply-To": "<c1.s1@mail.outreach.example>"},
    ],
)
def test_a_persons_reply_is_not_automatic(headers: dict[str, str]) -> None:
    assert not is_auto_reply(headers, "Re: Your application")


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Your application",
        "OUT OF THE OFFICE until Monday",
        "Automatic reply: Your application",
        "Auto-Reply: Your application",
        "Autoreply",
        "Auto Response: thanks",
        "RE: Automatic reply: Your application",
        "Abwesenheitsnotiz: Ihre Bewerbung",
        "AW: Abwesenheitsnotiz",
        "Réponse automatique : votre candidature",
        "RÉPONSE AUTOMATIQUE",
        "Respuesta automática: su solicitud",
        "Respuesta automatica",
        "Automatische Antwort: Ihre Bewerbung",
        "Réponse automatique\u00a0: votre candidature",
        "Risposta automatica: la sua domanda",
        "Fuori ufficio",
        "Automatisch antwoord: uw sollicitatie",
        "Afwezig",
        "Resposta automática: sua candidatura",
        "Fora do escritório",
        "Message d'absence",
        "Nicht im Büro",
    ],
)
def test_automatic_reply_subjects_are_recognised(subject: str) -> None:
    assert is_auto_reply({}, subject)


@pytest.mark.parametrize(
    "subject",
    [
        None,
        "",
        "Re: Your application",
        "Re: your note about the out of office policy",
        "Thanks for the automatic reply tip",
    ],
)
def test_ordinary_subjects_are_not_automatic(subject: str | None) -> None:
    assert not is_auto_reply({}, subject)
