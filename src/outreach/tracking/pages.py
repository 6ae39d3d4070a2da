"""The small HTML pages of the unsubscribe link (no scripts, no external assets)."""

import html

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#222}}button{{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str) -> str:
    return _PAGE.format(title=title, body=body)


def unsubscribe_confirm(action: str) -> str:
    """The confirmation page; its form posts back to `action`, the page's own path."""
    return _page(
        "Unsubscribe",
        "<p>Stop receiving these messages?</p>"
        f'<form method="post" action="{html.escape(action)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


UNSUBSCRIBE_DONE = _page(
    "You are unsubscribed", "<p>You will not receive further messages from this sender.</p>"
)
UNSUBSCRIBE_UNKNOWN = _page(
    "Link not recognised", "<p>This unsubscribe link is not valid. It may be incomplete.</p>"
)
UNSUBSCRIBE_LATER = _page(
    "Please try again in a minute",
    "<p>We could not record your request just now. Nothing was changed: please try again in a "
    "minute.</p>",
)
