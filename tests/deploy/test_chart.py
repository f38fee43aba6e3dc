"""What the Helm chart in deploy/helm/loginless promises, read from its manifests as the provisioned helm renders
them offline (`make provision-deploy` builds helm): the restricted Pod Security profile, probes and
resources, secrets only from existing Secrets, only the gateway exposed, the NetworkPolicies of docs/deploy.md."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from litestar.handlers import HTTPRouteHandler

from loginless.shared.services import GUEST_ACTIONS, owner_of, service_names
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.admin import LIVENESS_PATH, is_internal
from loginless.shared.web.health import HealthController
from loginless.testkit.endpoints import missing

pytestmark = pytest.mark.unit

REPOSITORY = Path(__file__).resolve().parents[2]
CHART = REPOSITORY / "deploy" / "helm" / "loginless"
RELEASE = "loginless"
# The values files CI validates: the defaults and each file in the chart's ci/ folder.
VALUES_FILES = ("default", *sorted(path.name for path in (CHART / "ci").glob("*-values.yaml")))


def helm_binary() -> Path:
    binary = Path(os.environ.get("HELM") or REPOSITORY / ".cache" / "bin" / "helm")
    if not binary.exists():
        missing(f"helm at {binary} (`make provision-deploy` builds it)")
    return binary


def helm_template(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm_binary()), "template", RELEASE, str(CHART), "--namespace", "loginless",
                           *options], capture_output=True, text=True, check=False)


def render(values_file: str = "default", *options: str) -> list[dict]:
    if values_file != "default":
        options = ("--values", str(CHART / "ci" / values_file), *options)
    rendered = helm_template(*options)
    assert rendered.returncode == 0, rendered.stderr
    return [document for document in yaml.safe_load_all(rendered.stdout) if document]


def default_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="session", params=VALUES_FILES)
def manifests(request: pytest.FixtureRequest) -> list[dict]:
    """The chart's manifests with each values file CI validates."""
    return render(request.param)


@pytest.fixture(scope="session")
def default_manifests() -> list[dict]:
    return render()


# Volume kinds the restricted profile allows.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}
# Settings that are not typed SecretStr but carry credentials in their URL.
CREDENTIAL_URLS = {"database_url", "smtp_url"}


# ---- reading manifests --------------------------------------------------------------------------------------


def of_kind(manifests: list[dict], kind: str) -> list[dict]:
    return [document for document in manifests if document["kind"] == kind]


def named(manifests: list[dict], kind: str, name: str) -> dict:
    (found,) = [document for document in of_kind(manifests, kind) if document["metadata"]["name"] == name]
    return found


def workloads(manifests: list[dict]) -> Iterator[tuple[str, str, dict]]:
    """(service, component, pod spec) of every Deployment and Job."""
    for document in of_kind(manifests, "Deployment") + of_kind(manifests, "Job"):
        pod = document["spec"]["template"]
        labels = pod["metadata"]["labels"]
        yield labels["loginless.dev/service"], labels["app.kubernetes.io/component"], pod["spec"]


def settings_class(service: str) -> type[ServiceSettings]:
    return importlib.import_module(f"loginless.{service}.bootstrap").SETTINGS


def secret_settings(service: str) -> set[str]:
    """The service's settings that hold a secret, as environment variables."""
    fields = settings_class(service).model_fields
    names = {name for name, field in fields.items() if "SecretStr" in str(field.annotation)}
    return {f"{service.upper()}_{name.upper()}" for name in names | (CREDENTIAL_URLS & set(fields))}


def health_paths() -> set[str]:
    handlers = [getattr(HealthController, name) for name in dir(HealthController)]
    return {HealthController.path + path for handler in handlers if isinstance(handler, HTTPRouteHandler)
            for path in handler.paths}


# ---- what the chart deploys ---------------------------------------------------------------------------------


def test_the_default_values_deploy_every_registered_service_and_the_gateway_routes_every_guest_action(
        default_manifests):
    assert set(default_values()["services"]) == set(service_names())
    for service in service_names():
        name = f"loginless-{service}"
        named(default_manifests, "Deployment", name)
        named(default_manifests, "Deployment", f"{name}-worker")
        named(default_manifests, "Service", name)
        named(default_manifests, "Job", f"{name}-migrate")
    routes = json.loads(named(default_manifests, "ConfigMap", "loginless-gateway")["data"]["GATEWAY_ROUTES"])
    assert routes == {action: {"service": owner_of(action).name, "url": f"http://loginless-{owner_of(action).name}"}
                      for action in GUEST_ACTIONS}


def test_each_process_runs_its_service_and_role_from_the_one_image(manifests):
    for service, component, pod in workloads(manifests):
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", f"loginless.{service}", component]
    assert len({container["image"] for _, _, pod in workloads(manifests) for container in pod["containers"]}) == 1


def test_every_config_map_names_only_settings_its_service_has(manifests):
    """A misspelt setting would be ignored by the service (its settings ignore unknown variables)."""
    for config_map in of_kind(manifests, "ConfigMap"):
        if "loginless.dev/service" not in config_map["metadata"]["labels"]:
            continue  # the Grafana dashboard
        service = config_map["metadata"]["labels"]["loginless.dev/service"]
        fields = settings_class(service).model_fields
        for variable in config_map["data"]:
            prefix, _, setting = variable.partition("_")
            assert prefix == service.upper() and setting.lower() in fields, variable


def test_each_service_accepts_its_rendered_settings_and_finds_the_files_they_name(manifests, monkeypatch):
    for service in service_names():
        config_map = named(manifests, "ConfigMap", f"loginless-{service}")
        with monkeypatch.context() as environment:
            for variable, value in config_map["data"].items():
                environment.setenv(variable, value)
            for variable in secret_settings(service) & {f"{service.upper()}_{name}" for name in
                                                        ("DATABASE_URL", "KAFKA_SASL_PASSWORD", "TWILIO_AUTH_TOKEN",
                                                         "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")}:
                environment.setenv(variable, "postgresql://db/loginless" if "DATABASE" in variable else "secret")
            settings = settings_class(service)()
        assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8000)
        if settings.kafka_ssl_ca_file:
            for component in ("", "-worker"):
                (container,) = named(manifests, "Deployment", f"loginless-{service}{component}")["spec"][
                    "template"]["spec"]["containers"]
                mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
                assert str(Path(settings.kafka_ssl_ca_file).parent) in mounts, (service, component)


# ---- the restricted Pod Security profile, probes, resources -------------------------------------------------


def test_every_container_runs_as_non_root_with_a_read_only_root_file_system(manifests):
    for service, component, pod in workloads(manifests):
        where = f"{service} {component}"
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["runAsUser"] > 0, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert pod["automountServiceAccountToken"] is False, where
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod), where
        for volume in pod.get("volumes", []):
            assert set(volume) - {"name"} <= RESTRICTED_VOLUMES, (where, volume)
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context.get("runAsUser", pod["securityContext"]["runAsUser"]) != 0, where
            writable = {mount["mountPath"] for mount in container["volumeMounts"] if not mount.get("readOnly")}
            assert writable == {"/tmp"}, where


def test_every_container_has_resource_requests_and_a_memory_limit(manifests):
    for service, component, pod in workloads(manifests):
        for container in pod["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), (service, component)
            assert "memory" in resources["limits"], (service, component)


def test_every_process_is_probed_for_liveness_on_the_port_it_serves_and_for_readiness_on_its_admin_port(manifests):
    live, ready = "/health/live", "/health/ready"
    assert {live, ready} <= health_paths()
    assert live == LIVENESS_PATH and not is_internal(live) and is_internal(ready)  # where the admin split puts them
    probed = [(service, component, pod) for service, component, pod in workloads(manifests) if component != "migrate"]
    assert {(service, component) for service, component, _ in probed} == {
        (service, component) for service in default_values()["services"] for component in ("api", "worker")}
    for service, component, pod in probed:
        (container,) = pod["containers"]
        admin_port = int(named(manifests, "ConfigMap", f"loginless-{service}")["data"][f"{service.upper()}_ADMIN_PORT"])
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports == ({"http": 8000, "admin": admin_port} if component == "api" else {"admin": admin_port})
        probes = {probe: (container[probe]["httpGet"]["port"], container[probe]["httpGet"]["path"])
                  for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
        own_port = "http" if component == "api" else "admin"
        assert probes == {"startupProbe": (own_port, live), "livenessProbe": (own_port, live),
                          "readinessProbe": ("admin", ready)}, (service, component)


# ---- secrets ------------------------------------------------------------------------------------------------


def test_no_secret_is_in_a_config_map_or_an_environment_literal(manifests):
    secrets = set().union(*(secret_settings(service) for service in service_names()))
    literals = {variable: value for config_map in of_kind(manifests, "ConfigMap")
                for variable, value in config_map["data"].items()}
    for _, _, pod in workloads(manifests):
        literals |= {entry["name"]: entry["value"] for container in pod["containers"]
                     for entry in container.get("env", []) if "value" in entry}
    assert not secrets & set(literals)
    for variable, value in literals.items():
        assert not re.search(r"://[^/@\s]*:[^/@\s]*@", str(value)), f"{variable} holds a password in a URL"


def test_every_secret_setting_of_a_running_process_comes_from_an_existing_secret(manifests):
    for service, component, pod in workloads(manifests):
        (container,) = pod["containers"]
        from_secrets = {entry["name"] for entry in container.get("env", [])
                        if "secretKeyRef" in entry.get("valueFrom", {})}
        if component == "migrate":  # it needs the database and nothing else
            assert from_secrets == {f"{service.upper()}_DATABASE_URL"}
            continue
        # Optional: the previous cookie secrets (rotation) and links' platform API key (that API is off by default).
        expected = secret_settings(service) - {f"{service.upper()}_PREVIOUS_COOKIE_SECRETS", "LINKS_PLATFORM_ADMIN_KEY"}
        settings = named(manifests, "ConfigMap", f"loginless-{service}")["data"]
        if not settings[f"{service.upper()}_KAFKA_SECURITY_PROTOCOL"].startswith("SASL_"):
            expected -= {f"{service.upper()}_KAFKA_SASL_PASSWORD"}
        if settings.get(f"{service.upper()}_PROVIDER", "test") != "stripe":  # Stripe's keys: only when it is chosen
            expected -= {f"{service.upper()}_STRIPE_SECRET_KEY", f"{service.upper()}_STRIPE_WEBHOOK_SECRET"}
        if settings.get(f"{service.upper()}_PROVIDER") != "test":  # the test provider's: only where it may run
            expected -= {f"{service.upper()}_TEST_PROVIDER_SECRET"}
        # Twilio's auth token, or its API key's secret when an API key signs in; neither without Twilio.
        expected -= {"LINKS_TWILIO_AUTH_TOKEN" if "LINKS_TWILIO_KEY_SID" in settings else "LINKS_TWILIO_KEY_SECRET"}
        if settings.get("LINKS_SMS_PROVIDER") != "twilio":
            expected -= {"LINKS_TWILIO_AUTH_TOKEN", "LINKS_TWILIO_KEY_SECRET"}
        assert expected <= from_secrets, (service, component, expected - from_secrets)


def test_every_process_is_marked_production_and_links_never_sends_sms_to_its_development_file(manifests):
    for config_map in of_kind(manifests, "ConfigMap"):
        if service := config_map["metadata"]["labels"].get("loginless.dev/service"):
            assert config_map["data"][f"{service.upper()}_ENVIRONMENT"] == "production", service
    links = named(manifests, "ConfigMap", "loginless-links")["data"]
    assert links["LINKS_SMS_PROVIDER"] in ("none", "twilio")
    assert named(manifests, "ConfigMap", "loginless-payments")["data"]["PAYMENTS_PROVIDER"] == "stripe"


@pytest.mark.parametrize("option", [
    "sms.provider=outbox-file", "sms.provider=twilio", "sms.twilio.accountSid=AC12", "environment=staging",
])
def test_the_values_schema_refuses_the_file_outbox_and_twilio_without_its_account(option):
    rendered = helm_template("--set", option)
    assert rendered.returncode != 0 and "values don't meet the specifications of the schema" in rendered.stderr


@pytest.mark.parametrize("options", [
    ("cardPayments.provider=test",),  # production is the chart's default
    ("services.payments.secretEnv.STRIPE_WEBHOOK_SECRET=null",),
    ("services.payments.secretEnv=null",),
    ("cardPayments.checkoutMinutes=10",),
])
def test_the_values_schema_refuses_the_test_provider_in_production_and_stripe_without_its_keys(options):
    rendered = helm_template(*(argument for option in options for argument in ("--set", option)))
    assert rendered.returncode != 0 and "values don't meet the specifications of the schema" in rendered.stderr
    development = render("default", "--set", "environment=development", "--set", "cardPayments.provider=test")
    assert named(development, "ConfigMap", "loginless-payments")["data"]["PAYMENTS_PROVIDER"] == "test"


@pytest.mark.parametrize("option", [
    "env.GATEWAY_COOKIE_SECRET=plain", "services.links.env.TOKEN_PEPPERS=id:plain", "env.DATABASE_URL=postgresql://u:p@db/x",
    "secretEnv.DATABASE_URL=postgresql://u:p@db/x", "kafka.securityProtocol=SASL_SSL",
])
def test_the_values_schema_refuses_a_secret_given_as_a_value(option):
    rendered = helm_template("--set", option)
    assert rendered.returncode != 0 and "values don't meet the specifications of the schema" in rendered.stderr


# ---- exposure and scaling -----------------------------------------------------------------------------------


def test_only_the_gateway_and_stripes_webhook_path_are_exposed_and_no_admin_port_is_in_a_service(manifests):
    assert {service["spec"]["type"] for service in of_kind(manifests, "Service")} == {"ClusterIP"}
    assert {(port["name"], port["targetPort"]) for service in of_kind(manifests, "Service")
            for port in service["spec"]["ports"]} == {("http", "http")}
    routes = [(path["pathType"], path["path"], path["backend"]["service"]["name"])
              for ingress in of_kind(manifests, "Ingress")
              for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    routes += [(match["path"]["type"].replace("PathPrefix", "Prefix"), match["path"]["value"], ref["name"])
               for route in of_kind(manifests, "HTTPRoute") for rule in route["spec"]["rules"]
               for match in rule["matches"] for ref in rule["backendRefs"]]
    # Exactly the one path Stripe posts its webhooks to goes to payments; everything else to the gateway.
    assert routes == [("Exact", "/webhooks/stripe", "loginless-payments"), ("Prefix", "/", "loginless-gateway")]
    from loginless.payments.http import WebhooksController

    webhook_paths = {WebhooksController.path + path for name in dir(WebhooksController)
                     if isinstance(handler := getattr(WebhooksController, name), HTTPRouteHandler)
                     for path in handler.paths}
    assert "/webhooks/stripe" in webhook_paths  # a route the payments api serves


def test_expose_type_chooses_an_ingress_or_an_http_route():
    route = render("httproute-values.yaml")
    assert not of_kind(route, "Ingress")
    (http_route,) = of_kind(route, "HTTPRoute")
    assert http_route["spec"]["parentRefs"][0]["name"] == "public"
    assert http_route["spec"]["hostnames"] == ["links.example.com"]
    assert not of_kind(render("default", "--set", "expose.type=none"), "Ingress")


def test_every_api_deployment_scales_with_a_horizontal_pod_autoscaler_and_no_worker_does(manifests):
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in of_kind(manifests, "HorizontalPodAutoscaler")}
    deployments = {deployment["metadata"]["name"]: deployment for deployment in of_kind(manifests, "Deployment")}
    apis = {name for name, deployment in deployments.items()
            if deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "api"}
    assert targets == apis
    for name in apis:
        assert "replicas" not in deployments[name]["spec"], "the autoscaler owns the api's replica count"


def test_every_deployment_has_a_pod_disruption_budget_selecting_exactly_its_pods(manifests):
    budgets = {budget["metadata"]["name"]: budget for budget in of_kind(manifests, "PodDisruptionBudget")}
    for deployment in of_kind(manifests, "Deployment"):
        budget = budgets.pop(deployment["metadata"]["name"])
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert not budgets


def test_migrations_run_before_install_and_upgrade_as_a_hook(manifests):
    for job in of_kind(manifests, "Job"):
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "serviceAccountName" not in job["spec"]["template"]["spec"], "hooks run before the release's objects"


def test_the_grafana_dashboard_is_shipped_for_the_sidecar_when_asked(default_manifests):
    assert not [config_map for config_map in of_kind(default_manifests, "ConfigMap")
                if "grafana_dashboard" in config_map["metadata"]["labels"]]
    dashboard = named(render("production-values.yaml"), "ConfigMap", "loginless-dashboard")
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["loginless.json"]) == json.loads(
        (CHART / "dashboards" / "loginless.json").read_text())


def test_a_service_added_in_values_gets_its_processes_and_its_place_in_the_network_policies():
    rendered = render("default", "--set", "services.reports.calls.worker={links}")
    named(rendered, "Deployment", "loginless-reports-worker")
    named(rendered, "Job", "loginless-reports-migrate")
    links = named(rendered, "NetworkPolicy", "loginless-links")
    callers = [peer["podSelector"]["matchLabels"] for peer in links["spec"]["ingress"][0]["from"]]
    assert {"loginless.dev/service": "reports", "app.kubernetes.io/component": "worker"}.items() \
        <= next(caller for caller in callers if caller["loginless.dev/service"] == "reports").items()


# ---- NetworkPolicies against docs/deploy.md -------------------------------------------------------------------


def selects(selector: dict, labels: dict) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def allowed_connections(manifests: list[dict], values: dict) -> set[tuple[str, str, int]]:
    """(from, to, port) the NetworkPolicies let through, by name: "<service> <component>" for the release's pods;
    "outside", and the outside systems by their port, for everything else."""
    pods = {}
    for document in of_kind(manifests, "Deployment") + of_kind(manifests, "Job"):
        labels = document["spec"]["template"]["metadata"]["labels"]
        pods[f"{labels['loginless.dev/service']} {labels['app.kubernetes.io/component']}"] = labels
    systems = {53: "DNS", values["postgresql"]["port"]: "PostgreSQL", values["kafka"]["port"]: "Kafka",
               values["s3"]["port"]: "S3", values["smtp"]["port"]: "SMTP", values["clamd"]["port"]: "ClamAV"}

    def uses(system: str, pods_of_rule: set[str]) -> bool:
        """Whether these pods' role reaches ``system`` (the SMS and card payment providers share S3's port, and all
        three may be anywhere)."""
        roles = {tuple(pod.split(" ")) for pod in pods_of_rule}
        return any(system in ((values["services"][service] or {}).get("egress") or {}).get(role, [])
                   for service, role in roles)

    def peers(rule: dict, key: str, port: int, targets: set[str]) -> set[str]:
        found = set()
        for peer in rule.get(key) or [{}]:
            if "podSelector" in peer and "namespaceSelector" not in peer:
                found |= {pod for pod, labels in pods.items() if selects(peer["podSelector"], labels)}
            elif key == "to" and rule.get("to") == values["webhooks"]["to"]:
                found.add("webhook endpoints")  # on the same port as S3, told apart by where they are
            elif key == "to" and port == values["sms"]["port"] and uses("sms", targets):
                found.add("SMS provider")
            elif key == "to" and port == values["cardPayments"]["port"] and uses("cardPayments", targets):
                found.add("card payment provider")
            else:
                found.add("outside" if key == "from" else systems[port])
        return found

    def port_of(entry: dict) -> int:
        return {"http": 8000, "admin": values["adminPort"]}.get(entry["port"], entry["port"])

    egress, ingress = set(), set()
    for policy in of_kind(manifests, "NetworkPolicy"):
        spec = policy["spec"]
        targets = {pod for pod, labels in pods.items() if selects(spec["podSelector"], labels)}
        for rule in spec.get("egress", []):
            for port in {port_of(entry) for entry in rule["ports"]}:
                egress |= {(pod, peer, port) for pod in targets for peer in peers(rule, "to", port, targets)}
        for rule in spec.get("ingress", []):
            for port in {port_of(entry) for entry in rule["ports"]}:
                ingress |= {(peer, pod, port) for pod in targets for peer in peers(rule, "from", port, targets)}
    between_pods = {connection for connection in egress if connection[1] in pods}
    assert between_pods == {connection for connection in ingress if connection[0] in pods}, \
        "every connection between the release's pods is allowed at both ends, and no other"
    return egress | ingress


def documented_connections(values: dict) -> set[tuple[str, str, int]]:
    text = (REPOSITORY / "docs" / "deploy.md").read_text()
    table = text.split("| from | to | port |", 1)[1].split("\n\n", 1)[0]
    every = {"every api": "api", "every worker": "worker", "every migrate job": "migrate"}
    connections = set()
    for line in table.strip().splitlines()[1:]:
        sources, destinations, port = (cell.strip() for cell in line.strip("|").split("|"))

        def expand(cell: str) -> set[str]:
            names = {name.strip().strip("`") for name in cell.split(",")}
            return {f"{service} {every[name]}" if name in every else name for name in names
                    for service in (values["services"] if name in every else [None])}
        connections |= {(source, destination, int(port)) for source in expand(sources)
                        for destination in expand(destinations)}
    return connections


def test_the_network_policies_allow_exactly_the_connections_in_docs_deploy(default_manifests):
    values = default_values()
    assert allowed_connections(default_manifests, values) == documented_connections(values)


def test_the_admin_ports_are_reached_only_from_the_metrics_scraper_named_in_values():
    manifests = render("production-values.yaml")
    scraper = yaml.safe_load((CHART / "ci" / "production-values.yaml").read_text())["networkPolicy"]["metricsFrom"]
    for policy in of_kind(manifests, "NetworkPolicy"):
        component = policy["metadata"]["labels"].get("app.kubernetes.io/component")
        admin_rules = [rule for rule in policy["spec"].get("ingress", [])
                       if {port["port"] for port in rule["ports"]} & {"admin", 9000}]
        if component in ("api", "worker"):
            assert [rule["from"] for rule in admin_rules] == [scraper], policy["metadata"]["name"]
        else:
            assert admin_rules == []
    assert all(rule.get("from") != scraper or rule["ports"] == [{"port": "admin", "protocol": "TCP"}]
               for policy in of_kind(manifests, "NetworkPolicy") for rule in policy["spec"].get("ingress", []))


def test_in_production_values_every_outside_connection_names_its_peers():
    manifests = render("production-values.yaml")
    for policy in of_kind(manifests, "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), (policy["metadata"]["name"], rule)
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), (policy["metadata"]["name"], rule)


def test_traces_when_asked_go_from_every_process_to_the_collector_and_nowhere_when_not():
    traced = render("default", "--set", "tracing.otlpEndpoint=http://otel.observability:4318")
    assert {config["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] for config in of_kind(traced, "ConfigMap")} == {
        "http://otel.observability:4318"}
    processes = [policy for policy in of_kind(traced, "NetworkPolicy")  # every api's and worker's
                 if not policy["metadata"]["name"].endswith(("-migrate", "-default-deny"))]
    assert len(processes) == 2 * len(default_values()["services"])
    for policy in processes:
        ports = {entry["port"] for rule in policy["spec"]["egress"] for entry in rule["ports"]}
        assert 4318 in ports, policy["metadata"]["name"]
    untraced = render("default")
    assert not any("OTEL_EXPORTER_OTLP_ENDPOINT" in config["data"] for config in of_kind(untraced, "ConfigMap"))
    assert not any(entry["port"] == 4318 for policy in of_kind(untraced, "NetworkPolicy")
                   for rule in policy["spec"]["egress"] for entry in rule["ports"])
