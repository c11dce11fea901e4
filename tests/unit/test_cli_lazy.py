"""A fast CLI (issue 14): a command line imports only what its command needs, the lazy map of
command modules is true to what they register, and a missing optional extra is named."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

main_module = importlib.import_module("flex_pipelines.cli.main")
SHARED = ("db", "add", "show", "delete")


def _names(t: typer.Typer) -> list[str]:
    commands = [c.name or c.callback.__name__.replace("_", "-") for c in t.registered_commands]
    return commands + [g.name or g.typer_instance.info.name for g in t.registered_groups]


@pytest.mark.parametrize("module", main_module.COMMAND_MODULES)
def test_the_lazy_map_lists_what_each_module_registers(module: str) -> None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            pytest.skip(f"{module} is not written yet")
        raise
    root, *shared = (typer.Typer() for _ in range(5))
    mod.register(root, *shared)
    touched = set(_names(root)) | {n for n, t in zip(SHARED, shared, strict=True) if _names(t)}
    assert set(main_module.COMMAND_NAMES[module]) == touched
    assert set(_names(root)) <= set(main_module.TOP_LEVEL_HELP)


def test_the_help_of_lazy_top_level_names_is_what_the_modules_say() -> None:
    app = main_module.app  # every module registered, in order
    commands = {c.name: c for c in app.registered_commands}
    groups = {g.name: g for g in app.registered_groups}
    assert set(commands) == main_module.TOP_LEVEL_COMMANDS
    for name, text in main_module.TOP_LEVEL_HELP.items():
        if name in commands:
            doc = commands[name].help or commands[name].callback.__doc__ or ""
            assert doc.strip().splitlines()[0] == text
        else:
            assert groups[name].typer_instance.info.help == text


def _run_main(argv: list[str], prelude: str = "") -> subprocess.CompletedProcess:
    """``flexpipe ARGV`` in a fresh process; prints the modules it imported as its last line."""
    code = (
        "import sys, json\n"
        f"{prelude}\n"
        "from flex_pipelines.cli import main\n"
        f"sys.argv = ['flexpipe', *{argv!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "else:\n"
        "    code = 0\n"
        "print(json.dumps(sorted(sys.modules)))\n"
        "sys.exit(code)\n"
    )
    env = {"COLUMNS": "80", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


HEAVY = ("polars", "pint", "duckdb", "psycopg", "scipy", "dagster", "fastapi", "sklearn")


def _heavy(modules: list[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_help_imports_no_library_and_lists_every_command() -> None:
    res = _run_main(["--help"])
    assert res.returncode == 0, res.stderr
    *help_lines, modules = res.stdout.rstrip("\n").split("\n")
    assert not _heavy(json.loads(modules))
    assert "numpy" not in json.loads(modules)
    full = CliRunner().invoke(main_module.app, ["--help"], env={"COLUMNS": "80"}).output
    assert "\n".join(help_lines).strip() == full.strip()


def test_a_stateless_solve_imports_only_the_scheduler(tmp_path: Path) -> None:
    start = "2026-01-01T00:00:00+01:00"
    problem = {
        "start": start,
        "duration": "P1D",
        "flex-model": [{"soc-at-start": "1 MWh", "soc-max": "2 MWh", "power-capacity": "1 MW"}],
        "flex-context": {"consumption-price": "50 EUR/MWh"},
    }
    path = tmp_path / "day.json"
    path.write_text(json.dumps(problem))
    res = _run_main(["schedule", "solve", str(path), "--format", "json"])
    assert res.returncode == 0, res.stderr
    modules = json.loads(res.stdout.rstrip("\n").split("\n")[-1])
    assert not _heavy(modules), _heavy(modules)
    assert "highspy" in modules


def test_a_missing_optional_extra_is_named() -> None:
    """``flexpipe api run`` without the [api] extra: which extra to install, no traceback."""
    res = _run_main(["api", "run"], prelude="sys.modules['fastapi'] = None")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "needs the optional 'api' extra" in res.stderr
    assert "pip install 'flex-pipelines[api]'" in res.stderr
    assert "Traceback" not in res.stderr


def test_the_console_redacts_store_passwords(capsys: pytest.CaptureFixture[str]) -> None:
    """Any command printing a store URL through the consoles (demo, fleet…) hides its
    password."""
    from flex_pipelines.cli.common import console, err_console

    console.print("Store: postgresql://flex:s3cr3t@db.internal/flex")
    err_console.print("cannot use postgresql://flex@db/flex?password=s3cr3t")
    out, err = capsys.readouterr()
    assert "s3cr3t" not in out + err
    assert "postgresql://flex:***@db.internal/flex" in out and "password=***" in err
