"""Templates cannot exhaust the server: what is over the rendering limits as written is refused
at save time, the rest ends within its limits at preview time with a 422 of its own."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from outreach.templates.sandbox import MAX_OUTPUT
from tests.factories import Org, create_template, free_port

# `n` is the length of the sample first name ("Alex"): the template's size is not a constant,
# so nothing shows it before rendering.
N = "{% set n = first_name|length %}"
OVER_AT_RENDER = {
    "nested loops": N + "{% for i in range(n * 25) %}{% for j in range(n * 250) %}"
    "{% endfor %}{% endfor %}x",
    "huge range": N + "{% for i in range(n * 100000) %}{% endfor %}",
    "string multiplication": N + "{{ ('a' * n * 100000000)|length }}",
    "list multiplication": N + "{{ ([0] * (n * 100000000))|length }}",
    "power": N + "{{ n ** (n * 100000) }}",
    "squaring in a loop": N + "{% set ns = namespace(x=n * 1000) %}"
    "{% for i in range(n * 10) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
    "doubling concatenation": "{% set ns = namespace(s=first_name) %}"
    "{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "doubling addition": "{% set ns = namespace(s=first_name) %}"
    "{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
    "recursion through macros": "{% macro f(x) %}{{ f(x) }}{{ f(x) }}{% endmacro %}{{ f(1) }}",
    "exponential macro calls": N + "{% macro f(k) %}{% if k > 0 %}{{ f(k - 1) }}{{ f(k - 1) }}"
    "{% endif %}{% endmacro %}{{ f(n * 10) }}",
    "center filter": N + "{{ first_name|center(n * 100000000) }}",
    "indent filter": N + "{{ first_name|indent(n * 100000000, true) }}",
    "format filter": "{{ '%0999999999d'|format(1) }}",
    "percent formatting": "{{ '%0999999999d' % first_name|length }}",
    "join filter": N + "{{ range(1000)|join('x' * (n * 1000)) }}",
    "replace method": N + "{{ ('a' * (n * 1000)).replace('a', 'b' * (n * 1000)) }}",
    "big literal in a loop": N + "{% for i in range(n * 1000) %}" + "x" * 1_000 + "{% endfor %}",
    "a big list printed": N + "{% set s = 'a' * (n * 100000) %}{{ [s, s, s, s, s] }}",
}
OVER_AS_WRITTEN = {
    "the issue's nested loops": "{% for i in range(100000) %}{% for j in range(1000) %}"
    "{% endfor %}{% endfor %}x",
    "the issue's string multiplication": "{{ ('a' * 200000000)|length }}",
    "a range over the cap": "{% for i in range(10001) %}{% endfor %}",
    "nested constant loops": "{% for i in range(100) %}{% for j in range(101) %}"
    "{% endfor %}{% endfor %}",
    "a big literal in a constant loop": "{% for i in range(1000) %}" + "x" * 1_000 + "{% endfor %}",
    "a list multiplication": "{{ [0] * 600000 }}",
    "a power": "{{ 2 ** 100000 }}",
    "nesting too deep": "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
}
REFUSED_TAGS = {
    "include": "{% include 'footer.html' %}",
    "import": "{% import 'macros.html' as m %}",
    "from": "{% from 'macros.html' import signature %}",
    "extends": "{% extends 'base.html' %}",
    "recursive loop": "{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}",
}


def refused(client: TestClient, org: Org, body_text: str) -> dict[str, Any]:
    body = {"name": "Hostile", "channel": "sms", "body_text": body_text}
    answer = client.post("/api/v1/templates", json=body, headers=org.headers())
    assert answer.status_code == 422, answer.text
    return dict(answer.json())


def preview(client: TestClient, org: Org, body_text: str) -> tuple[Any, float]:
    template = create_template(client, org, body_text=body_text)
    started = time.monotonic()
    answer = client.post(f"/api/v1/templates/{template['id']}/preview", headers=org.headers())
    return answer, time.monotonic() - started


@pytest.mark.parametrize("source", REFUSED_TAGS.values(), ids=REFUSED_TAGS.keys())
def test_include_import_extends_from_and_recursive_loops_are_refused_at_save(
    client: TestClient, org: Org, source: str
) -> None:
    problem = refused(client, org, source)
    assert problem["code"] == "TEMPLATE_TAG_NOT_ALLOWED"
    assert problem["errors"][0]["field"] == "body_text"


@pytest.mark.parametrize("source", OVER_AS_WRITTEN.values(), ids=OVER_AS_WRITTEN.keys())
def test_a_template_over_the_limits_as_written_is_refused_at_save(
    client: TestClient, org: Org, source: str
) -> None:
    started = time.monotonic()
    problem = refused(client, org, source)
    assert problem["code"] == "TEMPLATE_LIMIT_EXCEEDED"
    assert time.monotonic() - started < 2


def test_a_template_edit_over_the_limits_is_refused(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    answer = client.patch(
        f"/api/v1/templates/{template['id']}",
        json={"body_text": OVER_AS_WRITTEN["the issue's nested loops"]},
        headers=org.headers(),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "TEMPLATE_LIMIT_EXCEEDED"


@pytest.mark.parametrize("source", OVER_AT_RENDER.values(), ids=OVER_AT_RENDER.keys())
def test_a_template_over_the_limits_at_render_time_answers_422_within_its_time_limit(
    client: TestClient, org: Org, source: str
) -> None:
    answer, seconds = preview(client, org, source)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "TEMPLATE_LIMIT_EXCEEDED"
    assert seconds < 2 + 1  # the default limit is 2 s, plus the request around it


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ (first_name|length) / 0 }}", "ZeroDivisionError"),
        # str methods that amplify are out of the sandbox
        ("{% set s = first_name %}{{ s.center(100000000) }}", "unsafe"),
        ("{{ '{:>999999999}'.format(1) }}", "unsafe"),
    ],
)
def test_a_template_that_fails_or_breaks_the_sandbox_answers_422_not_500(
    client: TestClient, org: Org, source: str, reason: str
) -> None:
    answer, _ = preview(client, org, source)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "TEMPLATE_RENDER_FAILED"
    assert reason in answer.json()["detail"]


def test_personalization_within_the_limits_still_renders(client: TestClient, org: Org) -> None:
    source = (
        "{% set name = first_name %}{{ name.upper() }} {{ name.lower().strip() }} "
        "{% set full = full_name %}{{ full.split(' ')[0] }} {{ name.replace('x', 'ks') }} "
        "{{ first_name|center(10)|trim }} {{ '%s-%02d'|format(first_name, 7) }} "
        "{% for s in ['py', 'go'] %}{{ s|title }}{{ ', ' if not loop.last }}{% endfor %} "
        "{% macro hi(name) %}Hi {{ name }}{% endmacro %}{{ hi(first_name) }} "
        "{{ range(3)|join('.') }} {{ ('=' * 5) ~ '>' }} {{ 2 ** 10 }}"
    )
    answer, _ = preview(client, org, source)
    assert answer.status_code == 200, answer.text
    assert answer.json()["body_text"] == (
        "ALEX alex Alex Aleks Alex Alex-07 Py, Go Hi Alex 0.1.2 =====> 1024"
    )


def test_output_up_to_the_limit_renders(client: TestClient, org: Org) -> None:
    source = "{% for i in range(first_name|length * 100) %}" + "x" * 1_000 + "{% endfor %}"
    answer, _ = preview(client, org, source)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["body_text"]) == 400_000 < MAX_OUTPUT


@pytest.fixture
def served(database_urls: DatabaseUrls, tmp_path: Path) -> Iterator[str]:
    """`outreach serve` in its own process (its own GIL), with a 1 s render limit."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_urls.app,
        "DATABASE_OWNER_URL": database_urls.owner,
        "OUTREACH_RUN_JOBS": "false",
        "OUTREACH_SMTP_URL": "smtp://127.0.0.1:9",  # no mail catcher
        "OUTREACH_TEMPLATE_RENDER_SECONDS": "1",
    }
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 (our own command, a port we chose)
            [sys.executable, "-m", "outreach.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield base
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def test_healthz_answers_within_100_ms_while_the_worst_templates_render(
    served: str, org: Org
) -> None:
    with httpx.Client(base_url=served, headers=org.headers(), timeout=30) as api:
        ids = [
            create_template(api, org, body_text=source)["id"] for source in OVER_AT_RENDER.values()
        ]  # type: ignore[arg-type]
    answers: list[tuple[int, str, float]] = []
    waiting = list(ids)

    def render() -> None:  # as many at once as the server has render threads
        with httpx.Client(base_url=served, headers=org.headers(), timeout=30) as api:
            while waiting:
                template_id = waiting.pop()
                started = time.monotonic()
                answer = api.post(f"/api/v1/templates/{template_id}/preview")
                seconds = time.monotonic() - started
                answers.append((answer.status_code, answer.json()["code"], seconds))

    latencies = []
    with httpx.Client(base_url=served) as probe:
        probe.get("/healthz")
        renders = [threading.Thread(target=render) for _ in range(2)]
        for thread in renders:
            thread.start()
        while any(thread.is_alive() for thread in renders):
            started = time.monotonic()
            assert probe.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.01)
    for thread in renders:
        thread.join()

    assert sorted(code for _, code, _ in answers) == ["TEMPLATE_LIMIT_EXCEEDED"] * len(ids)
    assert {status for status, _, _ in answers} == {422}
    assert max(seconds for _, _, seconds in answers) < 1 + 0.5
    assert len(latencies) > 20
    assert max(latencies) < 0.1, sorted(latencies)[-5:]
