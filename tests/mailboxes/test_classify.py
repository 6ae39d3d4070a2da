"""Each message of the real-world corpus (tests/data/mail, sources in its README) is read as
what it is; return dates and unsubscribe requests in words are read from a person's text."""

from datetime import date

import pytest

from outreach.mailboxes.classify import (
    MAX_MESSAGE_BYTES,
    AutoReply,
    Bounce,
    Classified,
    MessageTooLarge,
    Reply,
    asks_to_unsubscribe,
    classify,
    message_ids,
    parse,
    return_date,
    sender_address,
)
from tests.mailboxes.mailbox_builders import CORPUS

TODAY = date(2026, 11, 30)  # a Monday


def read(name: str) -> Classified:
    return classify(parse((CORPUS / name).read_bytes()), today=TODAY)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "postfix-user-unknown.eml",
            Bounce(
                recipient="kijitora@example.org",
                bounce_type="hard",
                status="5.1.1",
                diagnostic="550 5.1.1 <kijitora@example.org>: Recipient address rejected: "
                "User unknown in virtual mailbox table",
                original_message_id="<6f1c2e4a-8b7d-4c1e-9a3f-2d5e7b9c1a01@acme.example>",
            ),
        ),
        (
            "office365-recipient-not-found.eml",
            Bounce(
                recipient="kijitora@contoso.example",
                bounce_type="hard",
                status="5.1.10",
                diagnostic="550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
                "Recipient not found by SMTP address lookup",
                original_message_id="<9b2d7c1e-5a4f-4e3b-8c6d-1f2a3b4c5d02@acme.example>",
            ),
        ),
        (
            # No delivery-status part: the status and the original headers are in the text.
            "office365-ndr-without-report.eml",
            Bounce(
                recipient=None,
                bounce_type="hard",
                status="5.1.10",
                diagnostic="Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
                "Recipient not found by SMTP address lookup'",
                original_message_id="<c3d4e5f6-0718-4293-a4b5-c6d7e8f90a03@acme.example>",
            ),
        ),
    ],
)
def test_bounces_are_read_with_recipient_status_and_original_message(
    name: str, expected: Bounce
) -> None:
    assert read(name) == expected


def test_a_gmail_failure_report_is_a_hard_bounce() -> None:
    bounce = read("gmail-user-unknown.eml")
    assert isinstance(bounce, Bounce)
    assert (bounce.recipient, bounce.bounce_type, bounce.status) == (
        "no.such.user@gmail.com",
        "hard",
        "5.1.1",
    )
    assert bounce.diagnostic is not None
    assert bounce.diagnostic.startswith("550-5.1.1 The email account that you tried to reach")
    assert bounce.original_message_id == "<d4e5f607-1829-4a3b-b5c6-d7e8f9a0b104@acme.example>"


def test_a_gmail_delay_notice_is_a_soft_bounce() -> None:
    bounce = read("gmail-delay.eml")
    assert isinstance(bounce, Bounce)
    assert (bounce.recipient, bounce.bounce_type, bounce.status) == (
        "kijitora@example.jp",
        "soft",
        "4.2.2",
    )
    assert bounce.diagnostic is not None
    assert "Mailbox Full" in bounce.diagnostic
    assert bounce.original_message_id == "<e5f60718-293a-4b4c-86d7-e8f9a0b1c205@gmail.com>"


@pytest.mark.parametrize(
    ("name", "returns"),
    [
        ("gmail-vacation-en.eml", date(2026, 12, 3)),
        ("gmail-vacation-fr.eml", date(2026, 12, 2)),
        ("gmail-vacation-de.eml", None),
        ("outlook-automatic-reply-en.eml", date(2026, 12, 7)),
        ("outlook-automatische-antwort-de.eml", date(2026, 12, 4)),
        ("outlook-reponse-automatique-fr.eml", None),
        ("exchange-out-of-office-en.eml", None),
    ],
)
def test_out_of_office_notes_are_auto_replies_with_their_return_date(
    name: str, returns: date | None
) -> None:
    assert read(name) == AutoReply(return_date=returns)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("gmail-reply.eml", "Hi Anna,\n\nThursday at 10 works for me. Send me an invite.\n\nJane"),
        (
            "outlook-reply-en.eml",
            "Hi Anna,\n\nWe are not hiring before March, but let's talk then.",
        ),
        (
            "outlook-reply-fr.eml",
            "Bonjour Anna,\n\nMerci pour votre message, appelez-moi jeudi matin.",
        ),
    ],
)
def test_a_reply_is_its_new_text_without_quote_or_signature(name: str, text: str) -> None:
    # Each quoted history holds our footer's "unsubscribe": it must not count.
    assert read(name) == Reply(text=text, unsubscribe=False)


def test_an_unsubscribe_request_in_words_is_a_reply_that_asks_to_be_removed() -> None:
    assert read("reply-unsubscribe.eml") == Reply(
        text="Please remove me from your list.", unsubscribe=True
    )


def test_a_newsletter_is_ignored() -> None:
    assert read("newsletter.eml") is None


def message(headers: str, body: str = "Hello") -> bytes:
    return f"{headers.strip()}\nContent-Type: text/plain; charset=utf-8\n\n{body}\n".encode()


def test_a_message_answering_nothing_is_ignored() -> None:
    raw = message("From: a@example.com\nSubject: Hello\nMessage-ID: <1@example.com>")
    assert classify(parse(raw), today=TODAY) is None


@pytest.mark.parametrize("subject", ["Re: Hello", "AW: Hallo", "RE : Bonjour"])
def test_a_reply_subject_makes_a_reply_without_threading_headers(subject: str) -> None:
    raw = message(f"From: a@example.com\nSubject: {subject}", "Yes, let's talk.")
    assert classify(parse(raw), today=TODAY) == Reply(text="Yes, let's talk.", unsubscribe=False)


def test_a_list_message_answering_ours_is_still_a_reply() -> None:
    raw = message(
        "From: a@example.com\nSubject: Re: Hello\nIn-Reply-To: <x@acme.example>\n"
        "List-Id: <team.example.com>",
        "Count me in.",
    )
    assert classify(parse(raw), today=TODAY) == Reply(text="Count me in.", unsubscribe=False)


def test_a_reply_from_an_html_only_client_is_read_as_text() -> None:
    raw = (
        b"From: a@example.com\nSubject: Re: Hello\nIn-Reply-To: <x@acme.example>\n"
        b"Content-Type: text/html; charset=utf-8\n\n"
        b"<html><head><style>p{}</style></head><body><p>Sounds&nbsp;good &amp; thanks</p>"
        b"<blockquote>Our old text, unsubscribe here</blockquote></body></html>\n"
    )
    assert classify(parse(raw), today=TODAY) == Reply(
        text="Sounds good & thanks", unsubscribe=False
    )


def test_a_reply_with_only_a_quote_keeps_the_first_lines_of_its_body() -> None:
    raw = message(
        "From: a@example.com\nSubject: Re: Hello\nIn-Reply-To: <x@acme.example>",
        "On Mon, Nov 30, 2026 at 9:12 AM Anna <anna@acme.example> wrote:\n> Hi",
    )
    result = classify(parse(raw), today=TODAY)
    assert isinstance(result, Reply)
    assert result.text.startswith("On Mon, Nov 30, 2026")


def test_a_null_return_path_without_auto_reply_headers_is_never_a_reply() -> None:
    raw = message(
        "Return-Path: <>\nFrom: mail@relay.example\nSubject: Re: Hello\n"
        "In-Reply-To: <x@acme.example>",
        "Your message to b@example.com failed: 550 5.7.1 rejected by policy",
    )
    result = classify(parse(raw), today=TODAY)
    assert isinstance(result, Bounce)
    assert (result.bounce_type, result.status) == ("hard", "5.7.1")


def test_a_mailer_daemon_message_nothing_can_be_read_of_is_ignored() -> None:
    raw = message(
        "From: MAILER-DAEMON@mx.example\nSubject: Re: Hello\nIn-Reply-To: <x@acme.example>",
        "Something happened.",
    )
    assert classify(parse(raw), today=TODAY) is None


def test_a_successful_delivery_report_is_ignored() -> None:
    raw = (
        b"From: postmaster@mx.example\nSubject: Delivered\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nDelivered.\n"
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n"
        b"Final-Recipient: rfc822; b@example.com\nAction: delivered\nStatus: 2.0.0\n"
        b"--b--\n"
    )
    assert classify(parse(raw), today=TODAY) is None


def test_message_ids_keep_angle_brackets_newest_reference_last() -> None:
    raw = message(
        "From: Jane <Jane.Doe@Example.com>\nMessage-ID: bare-id@example.com\n"
        "In-Reply-To: <b@acme.example> (Anna's message)\n"
        "References: <a@acme.example>\n <b@acme.example>"
    )
    ids = message_ids(parse(raw))
    assert ids.message_id == "<bare-id@example.com>"
    assert ids.in_reply_to == "<b@acme.example>"
    assert ids.references == ["<a@acme.example>", "<b@acme.example>"]


def test_a_message_without_ids_or_sender_has_none() -> None:
    parsed = parse(message("Subject: nothing"))
    assert message_ids(parsed).message_id is None
    assert message_ids(parsed).references == []
    assert sender_address(parsed) is None


def test_the_sender_address_is_lower_cased() -> None:
    assert sender_address(parse(message("From: Jane <Jane.Doe@Example.com>"))) == (
        "jane.doe@example.com"
    )


def test_a_message_over_the_limit_is_refused() -> None:
    with pytest.raises(MessageTooLarge, match="bytes"):
        parse(b"x" * (MAX_MESSAGE_BYTES + 1))


@pytest.mark.parametrize(
    ("text", "returns"),
    [
        ("I will be back on 3 December.", date(2026, 12, 3)),
        ("je serai de retour le 2 décembre", date(2026, 12, 2)),
        ("Ich bin ab dem 4. Dezember wieder im Büro.", date(2026, 12, 4)),
        ("I am away until Monday, December 7.", date(2026, 12, 7)),
        ("Back on 12/07/2026.", date(2026, 12, 7)),
        ("Ab 07.12.2026 bin ich wieder erreichbar.", date(2026, 12, 7)),
        ("Ab dem 07.12. bin ich wieder erreichbar.", date(2026, 12, 7)),
        ("Je serai de retour le 07/12/2026.", date(2026, 12, 7)),
        ("Estaré de vuelta el 5 de diciembre.", date(2026, 12, 5)),
        ("Sarò di nuovo in ufficio dal 9 dicembre.", date(2026, 12, 9)),
        ("Ik ben terug op 8 december.", date(2026, 12, 8)),
        ("Estarei de volta em 10 de dezembro.", date(2026, 12, 10)),
        ("I am out from December 1 until December 7.", date(2026, 12, 7)),
        ("I will be back on Monday.", date(2026, 12, 7)),
    ],
)
def test_a_stated_return_date_is_read(text: str, returns: date) -> None:
    assert return_date(text, today=TODAY) == returns


@pytest.mark.parametrize(
    "text",
    [
        "I am out of the office now with limited access to email.",
        "I will reply to your message on my return.",
        "I was back on 3 November.",  # in the past
        "The office reopened on 1 March 2020.",  # no return announced
        "Back soon. For urgent matters call +33 1 23 45 67 89.",
        "I will be back on 3 December 2031.",  # too far away to be a holiday
    ],
)
def test_no_return_date_without_a_future_date_announced(text: str) -> None:
    assert return_date(text, today=TODAY) is None


@pytest.mark.parametrize(
    "text",
    [
        "Unsubscribe",
        "Please remove me from your list.",
        "Stop emailing me.",
        "Do not contact me again.",
        "Merci de me désinscrire.",
        "Je ne souhaite plus recevoir vos messages.",
        "Retirez-moi de votre liste.",
        "Bitte austragen.",
        "Bitte keine weiteren E-Mails.",
        "Wie kann ich mich abmelden?",
    ],
)
def test_an_unsubscribe_request_in_words_is_recognised(text: str) -> None:
    assert asks_to_unsubscribe(text)


@pytest.mark.parametrize(
    "text",
    [
        "I don't want to unsubscribe, tell me more.",
        "No need to remove me, this looks interesting.",
        "Je ne veux pas me désinscrire, dites-m'en plus.",
        "Ich möchte mich nicht abmelden.",
        "Sounds great, let's talk on Thursday.",
        "unsubscribe " + "and a very long message about many things " * 20,
    ],
)
def test_a_reply_that_does_not_ask_to_be_removed_is_no_unsubscribe(text: str) -> None:
    assert not asks_to_unsubscribe(text)
