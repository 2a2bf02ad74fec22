"""A pytest plugin for `make mutate` (loaded by [tool.mutmut] in pyproject.toml): the tests on PostgreSQL stay out.

mutmut runs pytest several times in one process and forks each mutant's run from it, while tests/conftest.py names
the run's PostgreSQL database once per process: those runs would create, use and drop one database under each other.
The same tests run on SQLite, which sees the same services.
"""


def _on_postgresql(item):
    params = getattr(getattr(item, "callspec", None), "params", {})
    return params.get("database_url") == "postgresql" or "postgresql_url" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    left_out = [item for item in items if _on_postgresql(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not _on_postgresql(item)]
