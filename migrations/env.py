"""Alembic environment: migrations run as the schema owner, over a synchronous psycopg connection.

`outreach.migrations.run_migrations` passes the owner URL and the application role in
`config.attributes`; the migrations grant that role what it needs and nothing more.

Processes started together (workers of a deployment) each migrate at startup: they take turns
under an advisory lock held by the connection, and each reads the schema's revision once it
holds the lock, so the first applies what is missing and the others find nothing to do.
"""

from alembic import context
from sqlalchemy import create_engine, pool, text

MIGRATIONS_LOCK = "SELECT pg_advisory_lock(hashtextextended('outreach migrations', 0))"

config = context.config
url = config.attributes["owner_url"]

engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    connection.execute(text(MIGRATIONS_LOCK))
    connection.commit()  # the lock belongs to the session: it outlives this transaction
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
