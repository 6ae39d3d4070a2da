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
BAR_WIDTH = 4  # at the least: a long campaign's chart scrolls sideways
GAP = 6  # between two buckets' groups of bars
PLOT_WIDTH = 640  # a short campaign's few groups widen to fill it
LEFT = 36  # room for the scale's labels
BOTTOM = 20  # room for the dates
MAX_LABELS = 12


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
    title: str
    width: int
    height: int
    plot_height: int
    left: int
    largest: int
    bars: list[Bar]
    labels: list[tuple[float, str]]  # x, date or hour


@dataclass(frozen=True)
class _Bucket:
    label: str  # under the chart
    name: str  # in each bar's title
    counts: Any  # a ReportDayOut or ReportHourOut


def _buckets(report: CampaignReportOut) -> tuple[str, list[_Bucket]]:
    if report.hourly:
        return "Activity per hour (UTC)", [
            _Bucket(
                h.hour.strftime("%H:00") if h.hour.hour else h.hour.strftime("%d %b"),
                h.hour.strftime("%Y-%m-%d %H:00 UTC"),
                h,
            )
            for h in report.hourly
        ]
    return "Activity per day (UTC)", [
        _Bucket(d.day.strftime("%d %b"), d.day.isoformat(), d) for d in report.daily
    ]


def activity_chart(report: CampaignReportOut) -> Chart:
    """The activity chart's geometry: a group of bars per hour (a short campaign) or per day,
    scaled to the largest count; a few groups widen to fill the plot rather than huddle."""
    title, buckets = _buckets(report)
    largest = max((getattr(b.counts, key) for b in buckets for key, _, _ in SERIES), default=0)
    scale = CHART_HEIGHT / largest if largest else 0.0
    bar_width = max(BAR_WIDTH, min(24, (PLOT_WIDTH // max(len(buckets), 1) - GAP) // len(SERIES)))
    group_width = len(SERIES) * bar_width + GAP
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    every = max(1, math.ceil(len(buckets) / MAX_LABELS))
    for i, bucket in enumerate(buckets):
        x0 = LEFT + i * group_width
        for j, (key, label, color) in enumerate(SERIES):
            count = getattr(bucket.counts, key)
            height = round(count * scale, 1)
            bars.append(
                Bar(
                    x=x0 + j * bar_width,
                    y=round(CHART_HEIGHT - height, 1),
                    width=bar_width,
                    height=height,
                    color=color,
                    title=f"{bucket.name}: {count} {label.lower()}",
                )
            )
        if i % every == 0:
            labels.append((x0, bucket.label))
    return Chart(
        title=title,
        width=LEFT + max(len(buckets), 1) * group_width + 10,
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
        "chart": activity_chart(report),
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
