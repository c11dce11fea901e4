"""Schema-driven fuzzing (schemathesis) of our OpenAPI against a running server: no 5xx."""

from __future__ import annotations

import os

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

EXAMPLES = int(os.environ.get("FLEXPIPE_FUZZ_EXAMPLES", "5"))  # per operation and mode


def test_no_server_errors_under_fuzzing(serve):
    """Valid requests as an admin (reaching the deepest code), invalid ones as a plain user."""
    srv = serve()
    schema = schemathesis.openapi.from_url(f"{srv.base}/openapi.json")
    failures: list[str] = []
    n_calls = 0
    for result in schema.get_all_operations():
        op = result.ok()
        for mode, who in ((GenerationMode.POSITIVE, "admin"), (GenerationMode.NEGATIVE, "bob")):
            headers = {"Authorization": srv.tokens[who]}

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[hypothesis.Phase.generate],
            )
            @given(case=op.as_strategy(generation_mode=mode))
            def check(case) -> None:
                nonlocal n_calls
                response = case.call(base_url=srv.base, headers=headers, timeout=30)  # noqa: B023
                n_calls += 1
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} {case.body!r:.200} → {response.status_code} {response.text[:200]}"
                    )

            try:
                check()
            except hypothesis.errors.Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing invalid to send (no inputs)
    assert n_calls > 100  # 22 operations × 2 modes × EXAMPLES, minus impossible negatives
    assert not failures, "\n".join(failures[:10])
