"""Schemathesis against the live server: every answer is a status the OpenAPI document lists
for its operation, and none is a 5xx (bounded: a few examples per operation and mode)."""

from __future__ import annotations

import os

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

EXAMPLES = int(os.environ.get("FLEXPIPE_STATUS_EXAMPLES", "3"))  # per operation and mode


def test_every_status_is_documented(serve) -> None:  # noqa: ANN001
    srv = serve()
    schema = schemathesis.openapi.from_url(f"{srv.base}/openapi.json")
    findings: list[str] = []
    n_calls = 0
    for result in schema.get_all_operations():
        op = result.ok()
        for mode, who in ((GenerationMode.POSITIVE, "alice"), (GenerationMode.NEGATIVE, "carol")):
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
            def check(case) -> None:  # noqa: ANN001
                nonlocal n_calls
                response = case.call(base_url=srv.base, headers=headers, timeout=30)  # noqa: B023
                n_calls += 1
                try:
                    case.validate_response(
                        response, checks=[not_a_server_error, status_code_conformance]
                    )
                except Exception as exc:  # noqa: BLE001 - schemathesis' failure groups
                    findings.append(
                        f"{case.method} {case.formatted_path} → {response.status_code}: {str(exc)[:200]}"
                    )  # noqa: E501

            try:
                check()
            except hypothesis.errors.Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE
    assert n_calls > 150
    assert not findings, "\n".join(findings[:10])
