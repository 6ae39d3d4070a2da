"""PostgreSQL URLs as SQLAlchemy and psycopg each want them."""

from sqlalchemy import URL, make_url


def sqlalchemy_url(url: str) -> URL:
    """Accept postgres://, postgresql:// or postgresql+psycopg:// and use psycopg 3."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+psycopg")


def libpq_url(url: str) -> str:
    """The same URL for psycopg itself (no SQLAlchemy driver suffix)."""
    return sqlalchemy_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
