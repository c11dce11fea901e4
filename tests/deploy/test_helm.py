"""deploy/helm/flex-pipelines: ``helm lint`` and ``helm template`` pass, every rendered object is
valid for Kubernetes (strict JSON schemas of the oldest and newest supported versions), the values
schema refuses bad values, and the rendered instance keeps all state in PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from flex_pipelines.settings import DEFAULTS, load_settings
from tests.deploy.helm_support import (
    BASE_VALUES,
    CHART,
    RELEASE,
    ROOT,
    container,
    env_of,
    find,
    helm,
    manifests,
    merged,
    need,
    template,
)

COMPONENTS = ("code", "webserver", "daemon", "worker")
#: the chart's kubeVersion floor and the newest schemas kubernetes-validate bundles
KUBE_VERSIONS = ("1.27.0", "1.37.0")
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "external-redis": {
        "redis": {"enabled": False},
        "celery": {"broker": "redis://redis.example:6379/0", "backend": "redis://redis.example/1"},
        "extraEnvSecret": "flexpipe-extra",
        "imagePullSecrets": [{"name": "registry"}],
        "workers": {"replicas": 6, "nodeSelector": {"pool": "solvers"}},
        "settings": {"FLEXPIPE_INTRADAY_MINUTES": "5", "FLEXPIPE_AUTOMATION": "off"},
    },
    "no-store-password": {"store": {"passwordSecret": {"name": ""}}},
}


def instance_yaml(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return yaml.safe_load(find(objects, "ConfigMap", f"{RELEASE}-instance")["data"]["dagster.yaml"])


def test_helm_lint_finds_nothing_in_strict_mode() -> None:
    report = helm().lint(CHART, BASE_VALUES, strict=True, kube_version="v1.27.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["total_charts_linted"] == 1
    assert (problems, report["errors"]) == ([], [])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_rendered_object_is_valid_kubernetes(variant: str, kube_version: str) -> None:
    kv = need("kubernetes_validate", "kubernetes-validate")
    objects = manifests(merged(BASE_VALUES, VARIANTS[variant]))
    kinds = sorted(o["kind"] for o in objects)
    expected = ["ConfigMap"] + ["Deployment"] * 4 + ["Service"] * 2
    if variant != "external-redis":
        expected += ["Deployment", "Service"]  # the bundled Redis
    assert kinds == sorted(expected)
    for obj in objects:
        try:
            kv.validate(obj, kube_version, strict=True)
        except kv.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} on {kube_version}: {exc}")


BAD_VALUES = {
    "a DuckDB store file": ({"store": {"url": "var/flexpipe.duckdb"}}, "/store/url"),
    "a DuckDB store URL": ({"store": {"url": "duckdb:////data/flexpipe.duckdb"}}, "/store/url"),
    "a password in the store URL": (
        {"store": {"url": "postgresql://flexpipe:secret@db:5432/flexpipe"}},
        "/store/url",
    ),
    "no store": ({"store": {"url": ""}}, "/store/url"),
    "zero workers": ({"workers": {"replicas": 0}}, "/workers/replicas"),
    "no image repository": ({"image": {"repository": ""}}, "/image/repository"),
    "no image tag": ({"image": {"tag": ""}}, "/image/tag"),
    "a numeric image tag": ({"image": {"tag": 1.0}}, "/image/tag"),
    "no instance password Secret": (
        {"instance": {"postgres": {"passwordSecret": {"name": ""}}}},
        "/instance/postgres/passwordSecret/name",
    ),
    "no instance host": ({"instance": {"postgres": {"host": ""}}}, "/instance/postgres/host"),
    "an unknown setting": ({"settings": {"FLEXPIPE_INTRADAY": "15"}}, "FLEXPIPE_INTRADAY"),
    "a cycle time past midnight": (
        {"settings": {"FLEXPIPE_DAY_AHEAD_TIME": "24:00"}},
        "/settings/FLEXPIPE_DAY_AHEAD_TIME",
    ),
    "zero-minute intraday cycles": (
        {"settings": {"FLEXPIPE_INTRADAY_MINUTES": "0"}},
        "/settings/FLEXPIPE_INTRADAY_MINUTES",
    ),
    "automation neither on nor off": (
        {"settings": {"FLEXPIPE_AUTOMATION": "yes"}},
        "/settings/FLEXPIPE_AUTOMATION",
    ),
    "no Redis and no broker": ({"redis": {"enabled": False}}, "/celery/broker"),
    "a broker URL with a password": (
        {"celery": {"broker": "redis://:secret@redis:6379/0"}},
        "/celery/broker",
    ),
    "a misspelt section": ({"worker": {"replicas": 2}}, "'worker' not allowed"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_the_values_schema_refuses(case: str) -> None:
    override, where = BAD_VALUES[case]
    with pytest.raises(helm().HelmValuesError) as refused:
        template(merged(BASE_VALUES, override))
    assert where in str(refused.value)


def test_the_chart_alone_is_refused_until_image_store_and_instance_are_given() -> None:
    with pytest.raises(helm().HelmValuesError) as refused:
        template({})
    for where in ("/image/repository", "/store/url", "/instance/postgres/host"):
        assert where in str(refused.value)


def test_the_instance_keeps_all_state_in_postgres(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from dagster._core.instance.config import dagster_instance_config

    objects = manifests()
    config = instance_yaml(objects)
    reference = yaml.safe_load((ROOT / "deploy" / "dagster-postgres.yaml").read_text())
    # the same PostgreSQL storage (run, event log, schedules) as the documented instance file
    assert config["storage"] == reference["storage"] and list(config["storage"]) == ["postgres"]
    assert config["run_retries"] == reference["run_retries"]
    assert config["concurrency"] == reference["concurrency"]
    assert config["compute_logs"]["class"] == "NoOpComputeLogManager"
    assert "sqlite" not in yaml.safe_dump(config).lower()
    # local artifacts (dagster-celery's worker config) go to DAGSTER_HOME: a per-pod emptyDir
    assert "local_artifact_storage" not in config
    volumes = {
        v["name"]: v
        for v in find(objects, "Deployment", f"{RELEASE}-worker")["spec"]["template"]["spec"][
            "volumes"
        ]
    }
    for name in COMPONENTS:
        c = container(objects, name)
        home = next(m for m in c["volumeMounts"] if m["mountPath"] == env_of(c)["DAGSTER_HOME"])
        assert volumes[home["name"]] == {"name": home["name"], "emptyDir": {}}
    # Dagster's own schema accepts the file (with the DAGSTER_PG_* a pod gets)
    for var in ("USERNAME", "PASSWORD", "HOST", "DB", "PORT"):
        monkeypatch.setenv(f"DAGSTER_PG_{var}", "5432" if var == "PORT" else "x")
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    accepted, _ = dagster_instance_config(str(tmp_path))
    assert accepted["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"


def test_secrets_are_referenced_never_rendered() -> None:
    objects = manifests()
    assert not [o for o in objects if o["kind"] == "Secret"]
    for name in COMPONENTS:
        env = env_of(container(objects, name))
        assert env["DAGSTER_PG_PASSWORD"] == {
            "secretKeyRef": {"name": "flexpipe-dagster-pg", "key": "password"}
        }
        assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "flexpipe-store", "key": "password"}}
        assert env["FLEXPIPE_DB_URL"] == BASE_VALUES["store"]["url"]
    text = "\n".join(template().values())
    assert not re.search(r"://[^/@\s]*:[^/@\s]*@", text), "a URL with a password was rendered"
    extra = manifests(merged(BASE_VALUES, {"extraEnvSecret": "flexpipe-extra"}))
    for name in COMPONENTS:
        assert container(extra, name)["envFrom"] == [{"secretRef": {"name": "flexpipe-extra"}}]


def test_every_flexpipe_setting_is_a_chart_value_read_by_load_settings() -> None:
    schema = helm().Chart.load(CHART).schema
    assert set(schema["properties"]["settings"]["properties"]) == set(DEFAULTS) - {
        "FLEXPIPE_DB_URL"
    }
    override = {"FLEXPIPE_INTRADAY_MINUTES": "5", "FLEXPIPE_DAY_AHEAD_TIME": "12:30"}
    objects = manifests(merged(BASE_VALUES, {"settings": override}))
    for name in COMPONENTS:
        env = {k: v for k, v in env_of(container(objects, name)).items() if isinstance(v, str)}
        settings = load_settings(env)  # the one reader of FLEXPIPE_*: bad values would raise
        assert (settings.intraday_minutes, settings.day_ahead_time) == (5, "12:30")
        assert settings.db_url == BASE_VALUES["store"]["url"]
        assert settings.timezone == "Europe/Amsterdam"


def test_every_component_runs_one_image_with_one_environment() -> None:
    objects = manifests()
    images = {container(objects, name)["image"] for name in COMPONENTS}
    assert images == {"registry.example/flex-pipelines:0.1.0"}
    envs = [env_of(container(objects, name)) for name in COMPONENTS]
    envs[-1].pop("POD_NAME")  # the worker's name
    assert all(env == envs[0] for env in envs)
    assert envs[0]["FLEXPIPE_CELERY_BROKER"] == f"redis://{RELEASE}-redis:6379/0"
    assert envs[0]["FLEXPIPE_CELERY_BACKEND"] == f"redis://{RELEASE}-redis:6379/1"


def test_services_select_their_deployments_and_the_workspace_finds_the_code_server() -> None:
    objects = manifests()
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        chosen = [
            d
            for d in deployments
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(chosen) == 1, service["metadata"]["name"]
        ports = {p["name"] for p in chosen[0]["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
    for d in deployments:
        assert d["spec"]["selector"]["matchLabels"].items() <= (
            d["spec"]["template"]["metadata"]["labels"].items()
        )
    workspace = yaml.safe_load(
        find(objects, "ConfigMap", f"{RELEASE}-instance")["data"]["workspace.yaml"]
    )
    (location,) = workspace["load_from"]
    code = find(objects, "Service", f"{RELEASE}-code")
    assert location["grpc_server"]["host"] == code["metadata"]["name"]
    assert location["grpc_server"]["port"] == code["spec"]["ports"][0]["port"]
    assert location["grpc_server"]["location_name"] == "flex_pipelines"


def test_workers_run_deploy_celery_worker_and_scale_with_replicas() -> None:
    objects = manifests(merged(BASE_VALUES, {"workers": {"replicas": 5}}))
    worker = container(objects, "worker")
    # the image holds the repository at its WORKDIR: the container runs the script tests start
    workdir = re.search(r"^WORKDIR (\S+)$", (ROOT / "Dockerfile").read_text(), re.M).group(1)
    script = ROOT / "deploy" / "celery-worker"
    assert worker["command"] == [f"{workdir}/deploy/celery-worker"]
    assert worker["args"] == ["$(POD_NAME)"]
    assert env_of(worker)["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    needed = re.search(r"^for var in (.+); do$", script.read_text(), re.M).group(1).split()
    assert set(needed) <= set(env_of(worker)), "the script would refuse to start"
    deployment = find(objects, "Deployment", f"{RELEASE}-worker")
    assert deployment["spec"]["replicas"] == 5
    # one daemon, never two at once
    daemon = find(objects, "Deployment", f"{RELEASE}-daemon")
    assert (daemon["spec"]["replicas"], daemon["spec"]["strategy"]["type"]) == (1, "Recreate")


def test_an_external_redis_replaces_the_bundled_one() -> None:
    broker = "redis://redis.example:6379/0"
    override = {"redis": {"enabled": False}, "celery": {"broker": broker, "backend": broker}}
    objects = manifests(merged(BASE_VALUES, override))
    assert not [o for o in objects if o["metadata"]["name"] == f"{RELEASE}-redis"]
    assert env_of(container(objects, "worker"))["FLEXPIPE_CELERY_BROKER"] == broker
    # or both URLs from a Secret (a Redis with a password)
    objects = manifests(merged(BASE_VALUES, {"redis": {"enabled": False}, "extraEnvSecret": "r"}))
    assert "FLEXPIPE_CELERY_BROKER" not in env_of(container(objects, "worker"))


def test_the_documented_values_file_renders() -> None:
    """docs/deployment.md's values-prod.yaml is accepted and gives what it says."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    block = re.search(r"```yaml\n(# values-prod\.yaml\n.*?)```", text, re.S)
    assert block, "docs/deployment.md has no values-prod.yaml example"
    values = yaml.safe_load(block.group(1))
    objects = manifests(values)
    assert (
        find(objects, "Deployment", f"{RELEASE}-worker")["spec"]["replicas"]
        == (values["workers"]["replicas"])
    )
    assert env_of(container(objects, "code"))["FLEXPIPE_DB_URL"] == values["store"]["url"]
