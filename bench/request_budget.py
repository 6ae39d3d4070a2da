"""What the per-caller request budget (OUTREACH_RATE_LIMIT_PER_MINUTE) and API keys cost on the
campaign list: the same requests against the app with the limit off (0) and on (high enough
never to refuse, so every request is counted), with a user's token and with an API key.

Phases: a fresh database (as campaign_reads.py) with one organization of 100 campaigns; then
three apps on it in one process (limit off; on; on without slices, one write per request),
served over ASGI (no network, no uvicorn), called in turns: each round sends one request to
each of the six (app x token/key) in a rotating order, then a burst of 8 concurrent requests
of one caller to each. On a busy machine
the noise then falls on all four alike; the figures are medians over the rounds.

    .venv/bin/python bench/request_budget.py                 # about 30 s
    .venv/bin/python bench/request_budget.py --rounds 100    # quicker
"""

import argparse
import asyncio
import statistics
import time
import uuid
from collections import defaultdict
from contextlib import AsyncExitStack

import httpx

from campaign_reads import Scale, fresh_database, load, phase
from outreach.auth.tokens import Role, mint_token
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.main import create_app

ON = 1_000_000  # counted, never refused
BURST = 8
LIST = "/api/v1/campaigns?limit=50"


async def timed(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> float:
    """Seconds for `count` concurrent requests of one caller."""
    started = time.perf_counter()
    answers = await asyncio.gather(*(client.get(LIST, headers=headers) for _ in range(count)))
    elapsed = time.perf_counter() - started
    assert all(a.status_code == 200 for a in answers), answers[0].text
    return elapsed


async def bench(urls: DatabaseUrls, token: str, rounds: int) -> None:
    async with AsyncExitStack() as stack:
        clients = {}
        for state, limit in (("off", 0), ("on", ON), ("each", ON)):
            settings = Settings(  # type: ignore[call-arg]
                database_url=urls.app, run_jobs=False, rate_limit_per_minute=limit, _env_file=None
            )
            app = create_app(settings, urls)
            if state == "each":  # the same count without slices: one write per request
                app.state.request_budget.slice = 1
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[state] = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
            )
        admin = {"Authorization": f"Bearer {token}"}
        made = await clients["off"].post(
            "/api/v1/api-keys", json={"name": f"bench {uuid.uuid4().hex[:6]}", "role": "viewer"},
            headers=admin,
        )  # fmt: skip
        key = {"Authorization": f"Bearer {made.json()['key']}"}
        cases = [
            (state, who, h)
            for state in ("off", "on", "each")
            for who, h in (("token", admin), ("key", key))
        ]
        for state, _, headers in cases:  # warm up: pools, caches, prepared statements
            for _ in range(30):
                await timed(clients[state], headers, 1)
        single: dict[tuple[str, str], list[float]] = defaultdict(list)
        burst: dict[tuple[str, str], list[float]] = defaultdict(list)
        for r in range(rounds):
            order = cases[r % len(cases) :] + cases[: r % len(cases)]
            for state, who, headers in order:
                single[state, who].append(await timed(clients[state], headers, 1))
            for state, who, headers in order:
                burst[state, who].append(await timed(clients[state], headers, BURST) / BURST)
        phase(f"campaign list, medians of {rounds} rounds (ms per request)")
        for who in ("token", "key"):
            for label, samples in (("1 at a time", single), (f"{BURST} at once", burst)):
                off = statistics.median(samples["off", who]) * 1000
                on = statistics.median(samples["on", who]) * 1000
                each = statistics.median(samples["each", who]) * 1000
                print(
                    f"{who:<5} {label:<11}  limit off {off:6.2f}  on {on:6.2f} "
                    f"({(on / off - 1) * 100:+5.1f} %)  a write each {each:6.2f} "
                    f"({(each / off - 1) * 100:+5.1f} %)"
                )
        off_token = statistics.median(single["off", "token"]) * 1000
        off_key = statistics.median(single["off", "key"]) * 1000
        print(f"a key vs a token, limit off (the key's lookup): {off_key - off_token:+5.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with fresh_database() as urls:
        phase("load: 1 organization, 100 campaigns of 10 contacts")
        data = load(urls, Scale(orgs=1, campaigns=100, contacts=10), seed=7, jobs=1)
        [(org_id, users)] = data.users.items()
        settings = Settings(database_url=urls.app, _env_file=None)  # type: ignore[call-arg]
        token = mint_token(settings, org_id=org_id, user_id=users[0], role=Role.ADMIN)
        asyncio.run(bench(urls, token, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
