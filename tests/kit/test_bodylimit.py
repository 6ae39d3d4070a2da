"""Request bodies over the limit of their path are refused with 413 before the app has them."""

from collections.abc import Iterator

from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from outreach.kit.bodylimit import BodySizeLimit
from outreach.kit.problems import install_problem_handlers

LIMIT = 1000
IMPORT_LIMIT = 5000


async def size(request: Request) -> JSONResponse:
    return JSONResponse(len(await request.body()))


def client() -> TestClient:
    app = Starlette(
        routes=[
            Route("/small", size, methods=["POST"]),
            Route("/imports/{id}", size, methods=["POST"]),
        ]
    )
    install_problem_handlers(app)  # type: ignore[arg-type]
    app.add_middleware(BodySizeLimit, limit=LIMIT, per_path={"/imports/[^/]+": IMPORT_LIMIT})
    return TestClient(app)


def chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // 100):
        yield b"x" * 100


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    answer = client().post("/small", content=b"x" * (LIMIT + 1))
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_is_refused_once_it_passes_the_limit() -> None:
    answer = client().post("/small", content=chunks(LIMIT + 100))
    assert answer.status_code == 413
    assert answer.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert client().post("/small", content=chunks(LIMIT)).json() == LIMIT


def test_a_path_of_its_own_takes_its_own_limit() -> None:
    assert client().post("/imports/1", content=b"x" * IMPORT_LIMIT).json() == IMPORT_LIMIT
    assert client().post("/imports/1", content=b"x" * (IMPORT_LIMIT + 1)).status_code == 413
    assert client().post("/small", content=b"x" * (LIMIT + 1)).status_code == 413
