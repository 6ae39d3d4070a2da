"""The small HTML pages of the unsubscribe link (no scripts, no external assets): they name
the organization and the address when they can, and each offers the way back."""

from html import escape

from outreach.tracking.service import LinkPage

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#222}}button{{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}}
.small{{color:#555;font-size:.9rem}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str) -> str:
    return _PAGE.format(title=escape(title), body=body)


def _who(page: LinkPage | None) -> tuple[str, str]:
    """The organization and the address, escaped, or words that stand for them."""
    if page is None or page.org_name is None:
        return "this sender", "your address"
    address = f"<strong>{escape(page.email)}</strong>" if page.email else "your address"
    return f"<strong>{escape(page.org_name)}</strong>", address


def _form(action: str, button: str, *, one_click: bool = False) -> str:
    field = '<input type="hidden" name="List-Unsubscribe" value="One-Click">' if one_click else ""
    return (
        f'<form method="post" action="{escape(action)}">{field}'
        f'<button type="submit">{escape(button)}</button></form>'
    )


def unsubscribe_confirm(action: str, page: LinkPage | None = None) -> str:
    """The confirmation page; its form posts back to `action`, the page's own path. Without
    `page` (the database unreachable) it names nobody."""
    org, address = _who(page)
    return _page(
        "Unsubscribe",
        f"<p>Stop receiving messages from {org} at {address}?</p>"
        + _form(action, "Unsubscribe", one_click=True),
    )


def unsubscribed(action: str, page: LinkPage) -> str:
    """After an unsubscribe (or a GET of a link already used): done, and the undo."""
    org, address = _who(page)
    return _page(
        "You are unsubscribed",
        f"<p>{org} will send no further messages to {address}.</p>"
        "<p>Unsubscribed by mistake?</p>" + _form(f"{action}/resubscribe", "Resubscribe"),
    )


def resubscribed(action: str, page: LinkPage) -> str:
    """After an undo: what it changed, and the way to unsubscribe again."""
    org, address = _who(page)
    if page.still_suppressed:
        # An earlier request, a complaint, a bounce or a person put the address on the list:
        # undoing this link's unsubscribe does not take it off.
        said = (
            f"<p>Your unsubscribe is undone, but {address} stays on {org}'s do-not-contact "
            "list for another reason, so you will still receive nothing.</p>"
        )
    else:
        said = f"<p>Your unsubscribe is undone: {org} may write to {address} again.</p>"
    return _page(
        "Your unsubscribe is undone",
        said + '<p class="small">The sequence of messages you unsubscribed from stays stopped.'
        "</p>" + _form(action, "Unsubscribe again", one_click=True),
    )


UNSUBSCRIBE_UNKNOWN = _page(
    "Link not recognised", "<p>This unsubscribe link is not valid. It may be incomplete.</p>"
)
UNSUBSCRIBE_LATER = _page(
    "Please try again in a minute",
    "<p>We could not record your request just now. Nothing was changed: please try again in a "
    "minute.</p>",
)
