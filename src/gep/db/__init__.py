"""The database every store shares: engine creation (SQLite's transaction hooks, PostgreSQL's
pool), the one Alembic history, and :func:`select_visible`.

It sits below the domain packages (catalogue, accounts, jobs, harvest) so that each of them owns
its own store and tables while the engine, the schema history and the "rows the caller may see"
query are written once.
"""
