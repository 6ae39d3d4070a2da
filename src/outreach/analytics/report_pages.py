"""The campaign report as HTML (a self-contained page: inline CSS and SVG, no scripts, no
external assets) and as the owner's summary email; the figures come from analytics.report."""

import math
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from outreach.analytics.schemas import CampaignReportOut
from outreach.campaigns.rules import percentage

_ENV = Environment(
    loader=PackageLoader("outreach.analytics", "pages"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEXT_ENV = Environment(
    loader=PackageLoader("outreach.analytics", "pages"),
    autoescape=False,  # noqa: S701 - plain text mail: there is no markup to escape
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

SERIES = (
    ("sends", "Sent", "#6b7280"),
    ("opens", "Opened", "#3b82f6"),
    ("clicks", "Clicked", "#8b5cf6"),
    ("responses", "Responded", "#10b981"),
)
CHART_HEIGHT = 160
BAR_WIDTH = 4
DAY_WIDTH = len(SERIES) * BAR_WIDTH + 6
LEFT = 36  # room for the scale's labels
BOTTOM = 20  # room for the dates


@dataclass(frozen=True)
class Bar:
    x: int
    y: float
    width: int
    height: float
    color: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_height: int
    left: int
    largest: int
    bars: list[Bar]
    labels: list[tuple[float, str]]  # x, date


def daily_chart(report: CampaignReportOut) -> Chart:
    """The daily chart's geometry: one group of bars per day, scaled to the largest count."""
    largest = max((getattr(day, key) for day in report.daily for key, _, _ in SERIES), default=0)
    scale = CHART_HEIGHT / largest if largest else 0.0
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    every = max(1, math.ceil(len(report.daily) / 10))
    for i, day in enumerate(report.daily):
        x0 = LEFT + i * DAY_WIDTH
        for j, (key, label, color) in enumerate(SERIES):
            count = getattr(day, key)
            height = round(count * scale, 1)
            bars.append(
                Bar(
                    x=x0 + j * BAR_WIDTH,
                    y=round(CHART_HEIGHT - height, 1),
                    width=BAR_WIDTH,
                    height=height,
                    color=color,
                    title=f"{day.day.isoformat()}: {count} {label.lower()}",
                )
            )
        if i % every == 0:
            labels.append((x0, day.day.strftime("%d %b")))
    width = LEFT + max(len(report.daily), 1) * DAY_WIDTH + 10
    return Chart(
        width=width,
        height=CHART_HEIGHT + BOTTOM,
        plot_height=CHART_HEIGHT,
        left=LEFT,
        largest=largest,
        bars=bars,
        labels=labels,
    )


def _context(report: CampaignReportOut, report_url: str | None) -> dict[str, Any]:
    widest = max((step.count for step in report.funnel), default=0)
    return {
        "report": report,
        "bars": [(step, percentage(step.count, widest)) for step in report.funnel],
        "losses": [(step, percentage(step.count, widest)) for step in report.losses],
        "chart": daily_chart(report),
        "series": SERIES,
        "report_url": report_url,
    }


def report_page(report: CampaignReportOut) -> str:
    return _ENV.get_template("report.html").render(_context(report, None))


def summary_mail(report: CampaignReportOut, report_url: str) -> tuple[str, str, str]:
    """The owner's summary email: subject, text and HTML."""
    context = _context(report, report_url)
    subject = f"Campaign completed: {' '.join(report.name.split())}"  # one header line
    text = _TEXT_ENV.get_template("summary.txt").render(context)
    html = _ENV.get_template("summary.html").render(context)
    return subject, text, html
