"""Alembic environment: migrations run as the schema owner, over a synchronous psycopg connection.

`outreach.migrations.run_migrations` passes the owner URL and the application role in
`config.attributes`; the migrations grant that role what it needs and nothing more.
"""

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
url = config.attributes["owner_url"]

engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
