"""deploy/nginx's forward-auth configuration, rendered by loginless.devstack.nginx, is one Debian's nginx accepts.

Bad inputs tried: a service name nginx could not take as an upstream's, a URL that is not http://."""

import subprocess

import pytest

from loginless.devstack.nginx import nginx_command, render_config, render_site

pytestmark = pytest.mark.integration

SERVICES = {"documents": "http://127.0.0.1:8002", "signing": "http://127.0.0.1:8003/prefix"}


def test_the_rendered_configuration_passes_nginxs_own_check(tmp_path):
    config = render_config(tmp_path, listen_port=18999, gateway_url="http://127.0.0.1:8000", service_urls=SERVICES)
    site = (tmp_path / "loginless.conf").read_text()
    assert "{{" not in site
    assert "upstream loginless_documents {\n    server 127.0.0.1:8002;" in site
    assert "upstream loginless_signing {\n    server 127.0.0.1:8003;" in site  # the route's path is the gateway's
    assert "server 127.0.0.1:8000;" in site and "listen 127.0.0.1:18999;" in site
    check = subprocess.run([*nginx_command(config)[:-2], "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(("services", "gateway"), [
    ({"Documents; evil": "http://127.0.0.1:8002"}, "http://127.0.0.1:8000"),
    ({"documents": "https://127.0.0.1:8002"}, "http://127.0.0.1:8000"),
    ({"documents": "http://127.0.0.1:8002"}, "127.0.0.1:8000"),
])
def test_what_nginx_could_not_take_is_refused_before_it_is_written(tmp_path, services, gateway):
    with pytest.raises(ValueError):
        render_site(listen=18999, gateway_url=gateway, service_urls=services, cache_dir=tmp_path)
