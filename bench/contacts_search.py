"""Contact search at scale: `GET /contacts?q=` over 1M people in one organization, by query shape.

Phases (the machinery of bench/campaign_reads.py): a fresh database, migrated; a COPY load of
one org's people with names drawn from a few hundred first and last names (a few common, most
rare), emails `first.lastN@company-domain`, companies from a few thousand names; the real
service (uvicorn, 2 workers, as the app role) read by wrk over 16 connections, one run per query
shape and one with every shape mixed, and the mix again over 4 connections (below saturation);
the same statements (the app's own counts and page query, compiled) through psycopg as the app
role over 16 connections, the ceiling; EXPLAIN ANALYZE of one query of each shape; a summary
against the target. The server is stopped and the database dropped at the end.

    .venv/bin/python bench/contacts_search.py                     # 1M people (several minutes)
    .venv/bin/python bench/contacts_search.py --contacts 100000   # quick
"""

import argparse
import asyncio
import random
import time
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from campaign_reads import (
    CLIENTS,
    Request,
    Timings,
    analyze,
    fresh_database,
    phase,
    run,
    run_clients,
    run_wrk,
    running_service,
    service_arguments,
    wrk_missing,
    wrk_request,
)
from outreach.auth.tokens import Role, mint_token
from outreach.config import get_settings
from outreach.contacts.people.filters import ContactFilters, search_query
from outreach.contacts.people.repository import (
    DEFAULT_SETTINGS,
    WALK_SETTINGS,
    people_query,
    rarest_word,
)
from outreach.db import DatabaseUrls
from outreach.kit.dburls import libpq_url

TARGET_P95_MS = 50.0
PAGE = 50  # the route's default limit
VALUES_PER_SHAPE = 8
FEW_CLIENTS = 4
WRK_TIMEOUT = 30  # seconds: a slow search is measured, not dropped as a timeout


def words(text: str) -> list[str]:
    return text.split()


# Ordered from the most to the least common: a name's weight falls with its rank (Zipf-like).
FIRST_NAMES = words("""
James Maria John Mary Michael Anna David Sarah Robert Laura Thomas Emma Daniel Julia Paul
Sophie Mark Marie Peter Elena Martin Claire Richard Lucy Pierre Alice Nicolas Camille Andrew
Olivia Jean Charlotte Christopher Chloe Matthew Isabelle Stefan Hannah Lukas Lea Jan Katarina
Marco Giulia Luca Francesca Carlos Lucia Javier Carmen Pablo Ana Miguel Sofia Antonio Ines
Joao Beatriz Pedro Marta Ahmed Fatima Mohamed Amira Omar Leila Ali Yasmin Hassan Nadia Wei
Mei Chen Li Hiroshi Yuki Kenji Aiko Raj Priya Arjun Ananya Vikram Deepa Sanjay Kavya Ivan
Olga Dmitri Natalia Sergei Irina Piotr Agnieszka Tomasz Zofia Lars Ingrid Erik Astrid Nils
Freya Sven Sigrid Henrik Liv Mateo Valentina Santiago Camila Diego Gabriela Andres Paula
Liam Ava Noah Mia Ethan Isla Oscar Freya Hugo Zoe Louis Manon Gabriel Jade Arthur Louise
Felix Greta Maximilian Clara Jonas Lena Finn Ida Emil Frida Theo Elsa Leon Mila Samuel Nora
Benjamin Stella Adrian Vera Dominik Petra Milan Eva Tobias Helena Florian Ronja Patrick
Aoife Sean Niamh Ciaran Siobhan Declan Roisin Kwame Ama Kofi Abena Chidi Ngozi Tunde Ayo
Thabo Lerato Sipho Zanele Bongani Nomvula Tariq Rania Karim Salma Youssef Dalia Emre Elif
Burak Zeynep Can Ece Gustavo Larissa Rafael Bianca Thiago Renata Joaquin Florencia Ignacio
Agustina Horatio Ottoline Ptolemy Xanthe Zebedee Quillon Ysolde Barnaby Perpetua Eustace
""")
LAST_NAMES = words("""
Smith Garcia Martin Muller Johnson Rossi Williams Schmidt Brown Bernard Jones Fernandez
Miller Dubois Davis Lopez Wilson Schneider Taylor Ferrari Anderson Fischer Thomas Gonzalez
Moore Petit Jackson Weber Lee Romano White Meyer Harris Durand Clark Wagner Lewis Leroy
Walker Becker Hall Moreau Young Rodriguez Allen Hoffmann King Colombo Wright Simon Scott
Laurent Green Schulz Baker Ricci Adams Lefebvre Nelson Koch Hill Marino Campbell Bauer
Mitchell Michel Roberts Richter Carter Greco Phillips Klein Evans Bruno Turner Wolf Torres
Sanchez Parker Gallo Collins Neumann Edwards Fontaine Stewart Conti Morris Schwarz Murphy
Costa Cook Zimmermann Rogers Mercier Morgan Esposito Cooper Braun Peterson Silva Reed
Kruger Bailey Blanc Bell Santos Kelly Hartmann Howard Guerin Ward Lange Cox Boyer Diaz
Werner Richardson Pereira Wood Krause Watson Chevalier Brooks Lehmann Bennett Ferreira
Gray Kohler James Faure Reyes Herrmann Cruz Andre Hughes Konig Price Gauthier Myers Walter
Long Perrin Foster Mayer Sanders Morin Ross Fuchs Morales Nguyen Powell Kaiser Sullivan
Roussel Russell Lang Ortiz Clement Jenkins Weiss Gutierrez Schmitt Perry Lambert Butler
Frank Barnes Bonnet Fisher Vogel Henderson Francois Coleman Jung Simmons Martinez Patterson
Roth Jordan Mathieu Reynolds Hahn Hamilton Giraud Graham Kowalski Nowak Wisniewski Kim
Park Tanaka Suzuki Watanabe Yamamoto Wang Zhang Liu Chen Yang Huang Singh Kumar Sharma
Patel Gupta Khan Ahmed Hussain Ivanov Petrov Sokolov Popescu Novak Horvat Jensen Nielsen
Hansen Larsen Andersen Johansson Karlsson Nilsson Eriksson Virtanen Korhonen Murray Byrne
O'Brien O'Connor Ryan Doyle McCarthy Gallagher Okafor Mensah Adeyemi Nkosi Dlamini Haddad
Mansour Yilmaz Kaya Demir Oliveira Souza Alves Carvalho Castro Romero Navarro Dominguez
Gil Vazquez Serrano Blanco Molina Delgado Morel Aubert Lemoine Renaud Garnier Faucher
Quennell Pemberton Thistlewood Ravenscroft Featherstonehaugh Xiberras Zabrowski Vukovic
Wojcik Ostrowski Abernathy Blackwood Cheswick Drummond Ellsworth Fairweather Gladwell
Holloway Inglewood Jessop Kettleborough Lockwood Merriweather Netherby Oakenshield
Pickering Quarrington Rutherford Sillitoe Tregothnan Underhill Vickery Whitlock Yardley
""")
COMPANY_ROOTS = words("""
Acme Northwind Globex Initech Umbrella Stark Wayne Wonka Tyrell Cyberdyne Soylent Hooli
Vandelay Oscorp Aperture Black Mesa Blue Sun Gringotts Monarch Nakatomi Pied Piper Sterling
Virtucon Zorg Aurora Beacon Cascade Delta Ember Falcon Granite Harbor Ionic Juniper Keystone
Lumen Meridian Nimbus Orbit Pinnacle Quantum Radiant Summit Tidal Unity Vertex Willow Xenon
Yellowstone Zephyr Atlas Boreal Cobalt Dynamo Evergreen Frontier Galaxy Horizon Indigo Jade
Kinetic Lighthouse Magnolia Nova Onyx Polaris Quartz Redwood Sapphire Titan Ultra Vanguard
Westwind Apex Bluebird Cedar Driftwood Echo Firefly Glacier Hawthorn Ironwood Jasper Kestrel
Lakeside Maple Northstar Oakridge Pacific Riverbend Silverline Thunder Upland Velvet Wildfire
""")
COMPANY_KINDS = words("""
Labs Systems Software Analytics Consulting Group Holdings Partners Technologies Solutions
Robotics Energy Health Logistics Capital Media Networks Foods Bio Security Cloud Data Studio
Ventures Industries Digital Dynamics Works Retail Mobility
""")
TITLES = ["CTO", "Engineer", "Recruiter", "VP Sales", "Head of Data", "Designer", "CFO"]

SHAPES = {
    "rare surname prefix": "the first letters of a rare surname",
    "common first-name prefix": "the first 3 letters of a common first name",
    "email prefix": "the start of an email, up to its number",
    "company word": "one word of a company name, whole",
    "first + last": "a first name and a last name",
}


@dataclass
class People:
    """What the load drew: each name's count, the companies, some emails, the org and a user."""

    org: uuid.UUID
    user: uuid.UUID
    first: Counter[str]
    last: Counter[str]
    companies: list[str]
    emails: list[str]
    pairs: list[tuple[str, str]]


def weights(names: list[str], skew: float) -> list[float]:
    """Cumulative Zipf-like weights: rank r weighs 1 / (r + 3) ** skew."""
    return list(accumulate(1 / (rank + 3) ** skew for rank in range(len(names))))


def ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def load(urls: DatabaseUrls, contacts: int, seed: int) -> People:
    """One organization, a user and `contacts` people in one COPY (as the owner), created over
    three years in the order of their rows."""
    rng = random.Random(seed)
    org, user = uuid.uuid4(), uuid.uuid4()
    companies = [f"{root} {kind}" for root in COMPANY_ROOTS for kind in COMPANY_KINDS]
    domains = [f"{ascii_word(company)}.{rng.choice(['com', 'io', 'eu'])}" for company in companies]
    firsts = rng.choices(FIRST_NAMES, cum_weights=weights(FIRST_NAMES, 1.1), k=contacts)
    lasts = rng.choices(LAST_NAMES, cum_weights=weights(LAST_NAMES, 1.1), k=contacts)
    company_of = rng.choices(range(len(companies)), k=contacts)
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    step = timedelta(days=3 * 365) / contacts
    emails = []
    with psycopg.connect(libpq_url(urls.owner)) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Search org')", (org,))
        cur.execute(
            "INSERT INTO user_profiles (id, org_id, email, name, role) "
            "VALUES (%s, %s, 'admin@search.example', 'Admin', 'admin')",
            (user, org),
        )
        columns = "id, org_id, email, first_name, last_name, company_name, title, created_at"
        with cur.copy(f"COPY contacts ({columns}) FROM STDIN") as copy:
            for n in range(contacts):
                first, last, company = firsts[n], lasts[n], company_of[n]
                email = f"{ascii_word(first)}.{ascii_word(last)}{n}@{domains[company]}"
                if n % 997 == 0:
                    emails.append(email)
                copy.write_row(
                    (
                        uuid.uuid4(), org, email, first, last, companies[company],
                        TITLES[n % len(TITLES)], start + step * n,
                    )
                )  # fmt: skip
    pairs = [(firsts[n], lasts[n]) for n in rng.sample(range(contacts), VALUES_PER_SHAPE)]
    return People(org, user, Counter(firsts), Counter(lasts), companies, emails, pairs)


def queries(people: People) -> dict[str, list[str]]:
    """VALUES_PER_SHAPE `q` values of each shape, drawn from what was loaded."""
    rng = random.Random(3)
    rare = [name for name, _ in people.last.most_common()[-VALUES_PER_SHAPE:]]
    prefixes = dict.fromkeys(name[:3].lower() for name, _ in people.first.most_common())
    common = list(prefixes)[:VALUES_PER_SHAPE]
    roots = rng.sample(COMPANY_ROOTS, VALUES_PER_SHAPE)
    return {
        "rare surname prefix": [name[:5].lower() for name in rare],
        "common first-name prefix": common,
        "email prefix": [
            email.split("@")[0][:-1] for email in rng.sample(people.emails, VALUES_PER_SHAPE)
        ],
        "company word": [root.lower() for root in roots],
        "first + last": [f"{first} {last}" for first, last in people.pairs],
    }


def compiled(statement: Select[Any]) -> tuple[str, dict[str, Any]]:
    """The statement's SQL and parameters, as psycopg takes them."""
    result = statement.compile(dialect=psycopg_dialect())  # type: ignore[no-untyped-call]
    return str(result), dict(result.params)


async def page_statements(
    conn: psycopg.AsyncConnection[Any], q: str
) -> list[tuple[str, dict[str, Any]]]:
    """The statements `people_page` runs for `q` after its counts (which it runs on `conn`, as
    the app does): the page query, between the walk's settings when it walks."""
    words = search_query(q)

    async def count(statement: Select[Any]) -> Any:
        row = await (await conn.execute(*compiled(statement))).fetchone()
        return row[0] if row else None

    lead = await rarest_word(count, words) if words else None
    page = compiled(people_query(ContactFilters(q=q), None, PAGE + 1, lead))
    if lead is not None or not words:
        return [page]
    return [(str(WALK_SETTINGS), {}), page, (str(DEFAULT_SETTINGS), {})]


async def app_connection(urls: DatabaseUrls, people: People) -> psycopg.AsyncConnection[Any]:
    """A connection as the application role, in the org (row-level security on)."""
    conn = await psycopg.AsyncConnection.connect(libpq_url(urls.app), autocommit=True)
    await conn.execute("SELECT set_config('app.org_id', %s, false)", (str(people.org),))
    return conn


async def match_counts(urls: DatabaseUrls, people: People, shapes: dict[str, list[str]]) -> None:
    """How many people each shape's queries match (min / median / max), and how many of them
    are led by their rarest word (the others walk the people)."""
    conn = await app_connection(urls, people)
    try:
        for shape, values in shapes.items():
            counts, led = [], 0
            for q in values:
                statements = await page_statements(conn, q)
                led += len(statements) == 1
                matched = people_query(ContactFilters(q=q), None, PAGE).limit(None)
                statement = select(func.count()).select_from(matched.subquery())
                row = await (await conn.execute(*compiled(statement))).fetchone()
                counts.append(row[0] if row else 0)
            counts.sort()
            print(
                f"{shape:<26} e.g. {values[0]!r:<22} matches min {counts[0]:>7,}  "
                f"median {counts[len(counts) // 2]:>7,}  max {counts[-1]:>7,}  "
                f"led by a word {led}/{len(values)}"
            )
    finally:
        await conn.close()


def api_reads(
    base_url: str, people: People, shapes: dict[str, list[str]], seconds: int
) -> list[Timings]:
    token = mint_token(get_settings(), org_id=people.org, user_id=people.user, role=Role.ADMIN)
    requests = {
        shape: [wrk_request(f"/api/v1/contacts?q={quote(q)}", token) for q in values]
        for shape, values in shapes.items()
    }
    for values in shapes.values():
        for q in values:
            answer = httpx.get(
                f"{base_url}/api/v1/contacts",
                params={"q": q},
                headers={"Authorization": f"Bearer {token}"},
                timeout=WRK_TIMEOUT,
            )
            if answer.status_code != 200 or not answer.json()["items"]:
                raise RuntimeError(f"q={q!r}: {answer.status_code} {answer.text[:200]}")
    mixed = [request for values in requests.values() for request in values]
    random.Random(5).shuffle(mixed)
    run_wrk("warm-up", base_url, mixed, 3, timeout=WRK_TIMEOUT)
    timings = [
        run_wrk(f"API {shape}", base_url, values, seconds, timeout=WRK_TIMEOUT, statuses=True)
        for shape, values in requests.items()
    ]
    return [
        *timings,
        run_wrk(
            "API all shapes mixed", base_url, mixed, seconds, timeout=WRK_TIMEOUT, statuses=True
        ),
        # 16 connections keep both cores busy: a request's latency there is mostly its wait
        # behind the 15 others. Below saturation, the latency of one search.
        run_wrk(
            f"API all shapes mixed, {FEW_CLIENTS} connections",
            base_url,
            mixed,
            seconds,
            connections=FEW_CLIENTS,
            timeout=WRK_TIMEOUT,
            statuses=True,
        ),
    ]


async def sql_reads(
    urls: DatabaseUrls, people: People, shapes: dict[str, list[str]], total: int
) -> list[Timings]:
    """Each shape's statements, as people_page runs them, straight through psycopg as the app
    role in the org over CLIENTS connections (no HTTP, no ORM, no serialization): the ceiling."""
    connections = [await app_connection(urls, people) for _ in range(CLIENTS)]
    idle = asyncio.Queue[psycopg.AsyncConnection[Any]]()
    for conn in connections:
        idle.put_nowait(conn)

    def reader(values: list[str]) -> Request:
        async def read(rng: random.Random) -> float | None:
            q = rng.choice(values)
            conn = await idle.get()
            try:
                started = time.perf_counter()
                async with conn.transaction():  # as the API's session: the walk's settings hold
                    for sql, params in await page_statements(conn, q):
                        cursor = await conn.execute(sql, params)
                        if cursor.description is not None:
                            await cursor.fetchall()
                return time.perf_counter() - started
            finally:
                idle.put_nowait(conn)

        return read

    try:
        return [
            await run_clients(f"SQL {shape}", total, reader(values), warmup=100)
            for shape, values in shapes.items()
        ]
    finally:
        for conn in connections:
            await conn.close()


async def plans(
    urls: DatabaseUrls, people: People, shapes: dict[str, list[str]], full: bool
) -> None:
    """EXPLAIN ANALYZE of each shape's first query as the app role in the org (the API's plan,
    RLS on), with the walk's settings when it walks: the top line, the first scan and the
    execution time."""
    conn = await app_connection(urls, people)
    try:
        for shape, values in shapes.items():
            q = values[0]
            plan: list[str] = []
            async with conn.transaction():
                statements = await page_statements(conn, q)
                for sql, params in statements:
                    if sql.lstrip().upper().startswith("SELECT SET_CONFIG"):
                        await conn.execute(sql, params)
                        continue
                    explained = await conn.execute("EXPLAIN ANALYZE " + sql, params)
                    plan = [str(row[0]) for row in await explained.fetchall()]
            scan = next((line.strip() for line in plan if " Scan " in line), "")
            how = "led by its rarest word" if len(statements) == 1 else "a walk of the people"
            print(f"{shape} (q={q!r}, {how})")
            print(f"  {plan[0]}")
            print(f"  {scan.split('  (')[0]}; {plan[-1]}")
            if full:
                print("\n".join(f"      {line}" for line in plan[1:-2]))
    finally:
        await conn.close()


def summary(api: list[Timings], ceiling: list[Timings]) -> bool:
    phase("summary")
    print(f"{'shape':<28} {'API p95':>10} {'SQL p95':>14}  target  result")
    checks = []
    mixed_few = f"all shapes mixed, {FEW_CLIENTS} conn."
    for shape, timings, sql in zip(
        [*SHAPES, "all shapes mixed", mixed_few], api, [*ceiling, None, None], strict=True
    ):
        p95 = timings.percentile_ms(95)
        ok = p95 < TARGET_P95_MS and timings.errors == 0
        checks.append(ok)
        ceiling_p95 = f"{sql.percentile_ms(95):.1f} ms" if sql else "-"
        print(
            f"{shape:<28} {p95:7.1f} ms {ceiling_p95:>14}  < {TARGET_P95_MS:.0f} ms  "
            f"{'PASS' if ok else 'FAIL'}{f' ({timings.errors} errors)' if timings.errors else ''}"
        )
    return all(checks)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000, help="people in the org")
    parser.add_argument(
        "--requests", type=int, default=2000, help="measured SQL requests per shape (the ceiling)"
    )
    service_arguments(parser, seconds=10, port=8766)
    parser.add_argument("--plans", action="store_true", help="print the whole plans")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if wrk_missing():
        return 2
    print(f"scale: {args.contacts:,} people in one organization")
    with fresh_database() as urls:
        phase("load (COPY as the owner)")
        started = time.perf_counter()
        people = load(urls, args.contacts, args.seed)
        print(f"{args.contacts:,} people in {time.perf_counter() - started:.1f} s")
        analyze(urls)
        shapes = queries(people)
        phase("query shapes (people matched by each shape's queries)")
        asyncio.run(match_counts(urls, people, shapes))

        phase(f"API: {CLIENTS} connections, {args.workers} uvicorn workers, app role (RLS on)")
        with running_service(urls, args.port, args.workers) as base_url:
            api = api_reads(base_url, people, shapes, args.seconds)
        for timings in api:
            print(timings.line())

        phase(f"ceiling: the same statements through psycopg, app role, {CLIENTS} connections")
        ceiling = asyncio.run(sql_reads(urls, people, shapes, args.requests))
        for timings in ceiling:
            print(timings.line())

        phase("EXPLAIN ANALYZE, one query of each shape (top line, execution time)")
        asyncio.run(plans(urls, people, shapes, args.plans))

        passed = summary(api, ceiling)
    return 0 if passed else 1


if __name__ == "__main__":
    run(main)
