"""The background jobs' timing: a continuous job runs its next pass at once after one that
did something, waits its idle time after one that did nothing, and the stop cuts the wait."""

import asyncio
import time
import uuid

from outreach.config import Settings
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.jobs.registry import Loop, seconds
from outreach.jobs.runs import JobReport
from outreach.scheduler import BackgroundJobs


def test_a_loop_runs_on_while_it_works_then_waits_idle_until_the_stop(
    settings: Settings, database_urls: DatabaseUrls
) -> None:
    handled = [2, 1, 0, 5]  # what each pass does: the fourth must wait for the idle minute
    passes: list[int] = []

    async def scenario() -> float:
        idle = asyncio.Event()

        async def one_pass() -> JobReport:
            passes.append(handled[len(passes)])
            if passes[-1] == 0:
                idle.set()
            return JobReport(passes[-1], "test")

        engine = create_engine(database_urls.app, pool_size=1)
        jobs = BackgroundJobs(settings, create_sessionmaker(engine))
        loop = Loop(f"test_loop_{uuid.uuid4().hex[:8]}", seconds(60), lambda *_: one_pass)
        task = asyncio.create_task(jobs.run_forever(loop, one_pass))
        await asyncio.wait_for(idle.wait(), 5)
        await asyncio.sleep(0.3)  # time enough for a fourth pass, were it not waiting
        stopped_at = time.monotonic()
        jobs.stopping.set()
        await asyncio.wait_for(task, 5)
        await engine.dispose()
        return time.monotonic() - stopped_at

    stop_took = asyncio.run(scenario())
    assert passes == [2, 1, 0]
    assert stop_took < 1
