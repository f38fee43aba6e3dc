"""docs/operations.md, its alerting rules and the chart's Grafana dashboard name only metrics the code exports,
with labels those metrics have; and every metric the code exports is in the page's table."""

import functools
import json
import re
from pathlib import Path

import pytest
import yaml
from litestar import Litestar, get
from litestar.plugins.prometheus import PrometheusConfig
from litestar.testing import TestClient
from prometheus_client import REGISTRY

pytestmark = pytest.mark.unit

REPOSITORY = Path(__file__).resolve().parents[2]
OPERATIONS = (REPOSITORY / "docs" / "operations.md").read_text()
DASHBOARD = json.loads((REPOSITORY / "deploy" / "helm" / "loginless" / "dashboards" / "loginless.json").read_text())
SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


@functools.cache
def exported_metrics() -> dict[str, tuple[str, set[str]]]:
    """Every loginless_* series the processes export: series name -> (family, label names)."""
    import loginless.documents.antivirus  # noqa: F401 -- each module registers its metrics when loaded
    import loginless.documents.storage  # noqa: F401
    import loginless.gateway.forward_auth  # noqa: F401
    import loginless.gateway.http  # noqa: F401
    import loginless.gateway.proxy_lane  # noqa: F401
    import loginless.gateway.rate_limit  # noqa: F401
    import loginless.links.delivery  # noqa: F401
    import loginless.shared.eventstore.relay  # noqa: F401
    import loginless.shared.messaging.inbox  # noqa: F401
    import loginless.shared.messaging.lag  # noqa: F401

    @get("/probe")
    async def probe() -> str:
        return "ok"

    @get("/fails")
    async def fails() -> str:
        raise RuntimeError("the error counter exists only once a handler raised")

    # The apis' HTTP metrics are made by Litestar's middleware on its first request, as create_service_app sets it.
    with TestClient(Litestar([probe, fails], middleware=[PrometheusConfig(
            app_name="probe", prefix="loginless_http", group_path=True).middleware]),
            raise_server_exceptions=False) as client:
        client.get("/probe")
        client.get("/fails")
    series = {}
    for collector in list(REGISTRY._collector_to_names):  # the registry lists no label names of unused metrics
        for family in collector.describe() if hasattr(collector, "describe") else []:
            if not family.name.startswith("loginless_"):
                continue
            labels = set(getattr(collector, "_labelnames", ()))
            if family.type == "histogram":
                labels.add("le")
            for suffix in SERIES_SUFFIXES.get(family.type, ("",)):
                series[family.name + suffix] = (family.name, labels)
    return series


def expressions() -> list[str]:
    promql = re.findall(r"```promql\n(.*?)```", OPERATIONS, re.S)
    rules = [rule["expr"] for group in alerting_rules()["groups"] for rule in group["rules"]]
    panels = [target["expr"] for panel in DASHBOARD["panels"] for target in panel.get("targets", [])]
    return [*(line for block in promql for line in block.split("\n") if line.strip()), *rules, *panels]


def alerting_rules() -> dict:
    (block,) = re.findall(r"```yaml\n(groups:.*?)```", OPERATIONS, re.S)
    return yaml.safe_load(block)


def test_every_metric_and_label_in_the_queries_rules_and_dashboard_is_exported():
    exported = exported_metrics()
    assert expressions()
    for expression in expressions():
        for name in re.findall(r"\bloginless_[a-z0-9_]+", expression):
            assert name in exported, f"{name} in {expression!r}"
            labels = exported[name][1]
            selector = re.search(rf"{name}\{{([^}}]*)\}}", expression)
            used = set(re.findall(r"(\w+)\s*=~?", selector[1])) if selector else set()
            assert used <= labels, (name, used - labels)
        for grouped in re.findall(r"\bby \(([^)]*)\)", expression):
            names = re.findall(r"\bloginless_[a-z0-9_]+", expression)
            available = set().union(*(exported[name][1] for name in names))
            assert {label.strip() for label in grouped.split(",")} <= available, expression


def test_the_table_documents_every_exported_metric_and_nothing_else():
    """The table names a counter by its series (``_total``), a histogram and a gauge by the family's name."""
    documented = set(re.findall(r"^\| `(loginless_[a-z0-9_]+)`", OPERATIONS, re.M))
    as_documented = {family if name.endswith(("_bucket", "_count", "_sum")) else name
                     for name, (family, _) in exported_metrics().items()}
    assert documented == as_documented


def test_every_alert_has_a_severity_and_a_summary():
    rules = [rule for group in alerting_rules()["groups"] for rule in group["rules"]]
    assert len(rules) >= 5
    for rule in rules:
        assert rule["alert"].startswith("Loginless"), rule
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_the_dashboard_asks_its_datasource_variable_and_every_panel_has_a_query():
    assert {variable["name"] for variable in DASHBOARD["templating"]["list"]} >= {"datasource"}
    graphs = [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]
    assert graphs and all(panel["targets"] and panel["datasource"]["uid"] == "${datasource}" for panel in graphs)
