"""Test code stays out of what runs in production: runtime packages neither import the test kit, pytest or
testcontainers, nor declare them as dependencies (the test kit is only in the workspace's dev group).

Babel is a build tool for the message catalogs (services read the compiled catalogs with the standard library),
with one exception: payments writes money in the guest's locale with ``babel.numbers`` at run time (CLDR's
separators, symbols and patterns for every locale: a well-kept library instead of a hand-kept table). So payments,
and only payments, may depend on Babel and import its number formatting -- nothing else of it."""

import ast
import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
RUNTIME_PROJECTS = [ROOT / "shared", ROOT / "deploy" / "local",
                    *sorted(path.parent for path in (ROOT / "services").glob("*/pyproject.toml"))]
TEST_ONLY_MODULES = ("pytest", "_pytest", "loginless.testkit", "testcontainers")
TEST_ONLY_DISTRIBUTIONS = {"loginless-testkit", "pytest", "testcontainers"}
# Babel at run time: which projects may, and what of it (formatting numbers and money with CLDR's locale data).
BABEL_AT_RUNTIME = {ROOT / "services" / "payments"}
BABEL_RUNTIME_MODULES = ("babel", "babel.numbers")


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def is_test_only(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in TEST_ONLY_MODULES)


def distribution_name(requirement: str) -> str:
    """``"loginless_TestKit[extra]>=1"`` → ``"loginless-testkit"`` (PEP 503 normalised)."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)[1]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_runtime_projects_are_all_found():
    names = {tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"] for project in RUNTIME_PROJECTS}
    assert {"loginless-shared", "loginless-devstack", "loginless-gateway", "loginless-documents"} <= names


def test_the_check_recognises_a_test_only_import():
    source = "import os\nfrom loginless.testkit.endpoints import missing\n\ndef f():\n    import pytest\n"
    assert sorted(filter(is_test_only, imported_modules(source))) == ["loginless.testkit.endpoints", "pytest"]
    assert not is_test_only("pytester_like_name") and not is_test_only("loginless.testkits")


def is_babel_out_of_place(module: str, project: Path) -> bool:
    """Babel imported where it is only a build tool, or beyond its number formatting where it may run."""
    if module != "babel" and not module.startswith("babel."):
        return False
    return project not in BABEL_AT_RUNTIME or module not in BABEL_RUNTIME_MODULES


def test_the_check_recognises_babel_out_of_place():
    payments, links = ROOT / "services" / "payments", ROOT / "services" / "links"
    assert not is_babel_out_of_place("babel.numbers", payments) and not is_babel_out_of_place("babel", payments)
    assert is_babel_out_of_place("babel.messages.pofile", payments)
    assert is_babel_out_of_place("babel.numbers", links) and not is_babel_out_of_place("babelfish", links)


def test_no_runtime_source_imports_test_code():
    offending = [
        f"{path.relative_to(ROOT)}: {module}"
        for project in RUNTIME_PROJECTS
        for path in sorted((project / "src").rglob("*.py"))
        for module in sorted(imported_modules(path.read_text()))
        if is_test_only(module) or is_babel_out_of_place(module, project)
    ]
    assert offending == []


@pytest.mark.parametrize("project", [*RUNTIME_PROJECTS, ROOT], ids=lambda path: str(path.relative_to(ROOT)))
def test_no_runtime_project_depends_on_test_code(project):
    declared = tomllib.loads((project / "pyproject.toml").read_text())["project"].get("dependencies", [])
    forbidden = TEST_ONLY_DISTRIBUTIONS | (set() if project in BABEL_AT_RUNTIME else {"babel"})
    assert {distribution_name(requirement) for requirement in declared} & forbidden == set()


# ---- the kernel names no business service -------------------------------------------------------------------

KERNEL = ROOT / "shared" / "src" / "loginless" / "shared"
# The contract catalog sits beside the kernel and names services on purpose: their event payloads and the registry.
CATALOG = (KERNEL / "events" / "payloads", KERNEL / "services.py")


def kernel_modules() -> list[Path]:
    return [path for path in sorted(KERNEL.rglob("*.py"))
            if not any(path == part or part in path.parents for part in CATALOG)]


def service_imports(source: str) -> list[str]:
    from loginless.shared.services import service_names

    return sorted(module for module in imported_modules(source)
                  if any(module == f"loginless.{name}" or module.startswith(f"loginless.{name}.")
                         for name in service_names())
                  or module.startswith("loginless.shared.services"))


def test_the_kernel_check_recognises_a_service_import():
    assert service_imports("from loginless.links.client import LinksClient\nimport loginless.gateway\n") == [
        "loginless.gateway", "loginless.links.client"]


def test_no_kernel_module_imports_a_service_or_calls_one_of_their_apis():
    assert len(kernel_modules()) > 20
    offending = [f"{path.relative_to(ROOT)}: {problem}" for path in kernel_modules()
                 for problem in [*service_imports(path.read_text()),
                                 *(["/internal/v1 path"] if "/internal/v1" in path.read_text() else [])]]
    assert offending == []


def test_the_base_settings_carry_no_service_of_their_own():
    from loginless.shared.services import service_names
    from loginless.shared.settings import ServiceSettings

    fields = " ".join(ServiceSettings.model_fields)
    assert not [name for name in service_names() if name in fields]
    assert "assertion" not in fields


LINKS_PATHS = re.compile(r"/internal/v1/(?:links|api-keys)\b|/internal/v1/tenants/[^\"']*/(?:links|branding)\b"
                         r"|(?<!/internal)/v1/(?:links|api-keys|tenants)\b")


def test_the_paths_check_recognises_links_paths():
    assert LINKS_PATHS.search('f"{base}/internal/v1/tenants/{tenant}/links"')
    assert LINKS_PATHS.search('"/v1/links/" + link_id') and not LINKS_PATHS.search('"/v1/linkshare"')
    assert not LINKS_PATHS.search('"/internal/v1/tenants/{tenant_id:str}/documents"')  # documents' own


def test_no_runtime_module_but_links_own_knows_links_paths():
    """Every caller of links goes through its client (loginless.links.client), so a path changes in one place."""
    links_source = ROOT / "services" / "links" / "src"
    offending = [f"{path.relative_to(ROOT)}: {match}"
                 for project in RUNTIME_PROJECTS
                 for path in sorted((project / "src").rglob("*.py")) if links_source not in path.parents
                 for match in LINKS_PATHS.findall(path.read_text())]
    assert offending == []
