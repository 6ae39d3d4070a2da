"""CSV import at scale: a file of N rows (10% invalid, 5% repeats of earlier rows) imported into
a campaign through the real path, its speed, and the peak memory of the importing process.

Phases: a fresh database (OUTREACH_TEST_ADMIN_URL or the embedded PostgreSQL, as
bench/campaign_reads.py); the CSV files written; for each size (the smaller first), a fresh
organization and campaign and `outreach import FILE --campaign ID --org ORG` as a process of its
own: the service's upload (the file streamed into 1 MB chunks, checked) and the import job
(batches of 1,000 rows, each validated as the JSON bulk add does), timed from the import's own
timestamps, its peak RSS from the kernel (wait4); the ceiling: a bare COPY of the same valid,
distinct rows into contacts and campaign_contacts; a summary against the targets (100,000 rows
in under 60 s; peak memory flat in the file's size).

    .venv/bin/python bench/contacts_import.py                          # 200,000 vs 50,000 rows
    .venv/bin/python bench/contacts_import.py --rows 20000 --compare 5000   # a quick check
"""

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from campaign_reads import fresh_database, phase
from outreach.db import DatabaseUrls
from outreach.kit.dburls import libpq_url

OUTREACH = str(Path(sys.executable).parent / "outreach")
TARGET_ROWS = 100_000
TARGET_SECONDS = 60.0
# Peak RSS of the bigger file over the smaller one's: within this, memory is flat in the size.
TARGET_MEMORY_RATIO = 1.25
INVALID_SHARE = 0.10
REPEAT_SHARE = 0.05
HEADER = [
    "First Name",
    "Last Name",
    "E-mail",
    "Company Name",
    "Job Title",
    "LinkedIn",
    "Tags",
    "Lead Tier",
]
COMPANIES = ["Analytical Engines", "Société Générale", "Babbage & Co", "Zoë Labs", "Northwind"]
TITLES = ["Java developer", "Data engineer", "SRE", "CTO", "Product designer"]
TIERS = ["hot", "warm", "cold", ""]


@dataclass
class Person:
    first: str
    last: str
    email: str
    company: str
    title: str
    linkedin: str
    tags: str
    tier: str

    def row(self) -> list[str]:
        return [
            self.first,
            self.last,
            self.email,
            self.company,
            self.title,
            self.linkedin,
            self.tags,
            self.tier,
        ]


def person(n: int, rng: random.Random) -> Person:
    return Person(
        first=f"Ada{n}",
        last=f"Lovelace{n}",
        email=f"ada.{n}@example.com",
        company=rng.choice(COMPANIES),
        title=rng.choice(TITLES),
        linkedin=f"https://www.linkedin.com/in/ada-{n}" if n % 3 else "",
        tags="java; python" if n % 2 else "",
        tier=rng.choice(TIERS),
    )


def write_file(path: Path, rows: int, seed: int = 7) -> list[Person]:
    """The CSV file; answers its valid, distinct people (what a bare COPY would load)."""
    rng = random.Random(seed)
    valid: list[Person] = []
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for n in range(rows):
            draw = rng.random()
            if draw < INVALID_SHARE:
                bad = person(n, rng)
                if n % 2:
                    bad.email = f"ada.{n}.example.com"
                else:
                    bad.linkedin = f"https://example.com/ada-{n}"
                writer.writerow(bad.row())
            elif draw < INVALID_SHARE + REPEAT_SHARE and valid:
                writer.writerow(rng.choice(valid).row())
            else:
                valid.append(person(n, rng))
                writer.writerow(valid[-1].row())
    return valid


def new_campaign(urls: DatabaseUrls) -> tuple[uuid.UUID, uuid.UUID]:
    org, campaign, owner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(libpq_url(urls.owner), autocommit=True) as conn:
        conn.execute("INSERT INTO tenant_directory (id) VALUES (%s)", (org,))
        conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Bench')", (org,))
        conn.execute(
            "INSERT INTO user_profiles (id, org_id, role) VALUES (%s, %s, 'admin')", (owner, org)
        )
        conn.execute(
            "INSERT INTO campaigns (id, org_id, name, campaign_type, channel, owner_id) "
            "VALUES (%s, %s, 'Import bench', 'talent_sourcing', 'email', %s)",
            (campaign, org, owner),
        )
    return org, campaign


@dataclass
class Run:
    rows: int
    file_bytes: int
    upload_seconds: float
    job_seconds: float
    wall_seconds: float
    peak_rss_mb: float
    counts: dict[str, int]

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.wall_seconds


def run_import(urls: DatabaseUrls, file: Path, rows: int, data_dir: Path) -> Run:
    """`outreach import` as a process of its own; its peak RSS from the kernel when it ends."""
    org, campaign = new_campaign(urls)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "DATABASE_"))},
        "DATABASE_URL": urls.app,
        "DATABASE_OWNER_URL": urls.owner,
        "OUTREACH_DATA_DIR": str(data_dir),
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [OUTREACH, "import", str(file), "--campaign", str(campaign), "--org", str(org)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"outreach import failed ({process.returncode}):\n{output}")
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM started_at - created_at), "
            "extract(epoch FROM finished_at - started_at), file_bytes, rows_done, created, "
            "updated, skipped, invalid, status FROM contact_imports WHERE org_id = %s",
            (org,),
        ).fetchone()
        members = conn.execute(
            "SELECT count(*) FROM campaign_contacts WHERE campaign_id = %s", (campaign,)
        ).fetchone()
    assert row is not None
    assert members is not None
    upload, job, size, done, created, updated, skipped, invalid, state = row
    assert (state, done) == ("completed", rows), row
    assert members[0] == created, (members, created)
    return Run(
        rows=rows,
        file_bytes=size,
        upload_seconds=float(upload),
        job_seconds=float(job),
        wall_seconds=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
        counts={"created": created, "updated": updated, "skipped": skipped, "invalid": invalid},
    )


def copy_ceiling(urls: DatabaseUrls, people: list[Person]) -> float:
    """The same valid, distinct people loaded by a bare COPY (as the owner, no checks), with
    their campaign memberships: how fast the tables take the rows at all."""
    org, campaign = new_campaign(urls)
    ids = [uuid.uuid4() for _ in people]
    started = time.perf_counter()
    with psycopg.connect(libpq_url(urls.owner)) as conn, conn.cursor() as cur:
        columns = (
            "id, org_id, email, first_name, last_name, company_name, title, linkedin_url, tags, "
            "lead_tier"
        )
        with cur.copy(f"COPY contacts ({columns}) FROM STDIN") as copy:
            for id_, p in zip(ids, people, strict=True):
                tags = ["java", "python"] if p.tags else []
                copy.write_row(
                    (
                        id_,
                        org,
                        p.email,
                        p.first,
                        p.last,
                        p.company,
                        p.title,
                        p.linkedin or None,
                        tags,
                        p.tier or None,
                    )
                )
        with cur.copy(
            "COPY campaign_contacts (org_id, campaign_id, contact_id, contact_type) FROM STDIN"
        ) as copy:
            for id_ in ids:
                copy.write_row((org, campaign, id_, "candidate"))
    return time.perf_counter() - started


def report(run: Run) -> None:
    print(
        f"{run.rows:>9,} rows ({run.file_bytes / 1e6:.1f} MB): upload {run.upload_seconds:6.1f} s, "
        f"job {run.job_seconds:6.1f} s, total {run.wall_seconds:6.1f} s = "
        f"{run.rows_per_second:,.0f} rows/s; peak RSS {run.peak_rss_mb:.0f} MB; {run.counts}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--compare", type=int, default=50_000, help="the smaller file's rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder, fresh_database() as urls:
        work = Path(folder)
        phase("the files")
        files: dict[int, tuple[Path, list[Person]]] = {}
        for rows in sorted({args.compare, args.rows}):
            path = work / f"contacts-{rows}.csv"
            files[rows] = (path, write_file(path, rows))
            size = path.stat().st_size / 1e6
            print(f"{path.name}: {size:.1f} MB, {len(files[rows][1]):,} valid distinct rows")
        runs: dict[int, Run] = {}
        for rows, (path, _) in files.items():
            phase(f"outreach import of {rows:,} rows into a campaign")
            runs[rows] = run_import(urls, path, rows, work / "data")
            report(runs[rows])
        phase("ceiling: bare COPY of the same valid rows")
        big = runs[args.rows]
        valid = files[args.rows][1]
        ceiling = copy_ceiling(urls, valid)
        copied = len(valid) / ceiling
        print(f"{len(valid):,} contacts and memberships in {ceiling:.1f} s = {copied:,.0f} rows/s")

        phase("summary")
        at_target = TARGET_ROWS / big.rows_per_second
        verdict = "ok" if at_target < TARGET_SECONDS else "MISSED"
        print(
            f"import: {big.rows_per_second:,.0f} rows/s; 100,000 rows in {at_target:.1f} s "
            f"(target < {TARGET_SECONDS:.0f} s): {verdict}"
        )
        share = big.rows_per_second / copied
        print(f"bare COPY: {copied:,.0f} valid rows/s; the import runs at {share:.0%} of it")
        if args.compare != args.rows:
            small = runs[args.compare]
            ratio = big.peak_rss_mb / small.peak_rss_mb
            verdict = "ok" if ratio < TARGET_MEMORY_RATIO else "MISSED"
            print(
                f"peak RSS: {small.peak_rss_mb:.0f} MB at {small.rows:,} rows, "
                f"{big.peak_rss_mb:.0f} MB at {big.rows:,} rows ({ratio:.2f}x for "
                f"{big.rows / small.rows:.0f}x the rows; target < {TARGET_MEMORY_RATIO}x): "
                f"{verdict}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
