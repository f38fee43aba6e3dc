"""An S3-compatible server: s3proxy with its filesystem backend, run from Maven Central jars."""

from __future__ import annotations

from pathlib import Path

import httpx

from loginless.devstack.component import JavaComponent
from loginless.devstack.processes import LOOPBACK, PortSpec

# s3proxy ships no logging configuration, and logback's default is DEBUG for everything.
LOGBACK_CONFIG = """\
<!-- Written by loginless-stack. stdout goes to the log file. -->
<configuration>
  <appender name="stdout" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.gaul.shaded.org.eclipse.jetty" level="WARN"/>
  <root level="INFO"><appender-ref ref="stdout"/></root>
</configuration>
"""


class S3Server(JavaComponent):
    """s3proxy serving ``<var_dir>/data/s3/buckets`` (one directory per bucket).

    Requests must be signed (AWS signature v2 or v4) with ``access_key``/``secret_key``; a wrong secret
    is rejected, as real S3 would.
    """

    name = "s3"
    main_class = "org.gaul.s3proxy.Main"

    def __init__(
        self,
        var_dir: Path,
        jars_dir: Path,
        *,
        port: int = 19000,
        access_key: str = "loginless",
        secret_key: str = "loginless-secret",
        heap: str = "256m",
        java: str | None = None,
        port_env_var: str | None = None,
    ) -> None:
        super().__init__(var_dir, jars_dir, heap=heap, java=java)
        self.port = port
        self.access_key = access_key
        self.secret_key = secret_key
        self.port_env_var = port_env_var
        self.buckets_dir = self.data_dir / "buckets"
        self.properties_file = self.data_dir / "s3proxy.properties"
        self.logback_file = self.data_dir / "logback.xml"

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return self.endpoint

    @property
    def ports(self) -> list[PortSpec]:
        return [PortSpec(self.port, self.name, self.port_env_var)]

    def s3proxy_settings(self) -> dict[str, str]:
        return {
            "s3proxy.endpoint": self.endpoint,
            "s3proxy.authorization": "aws-v2-or-v4",
            "s3proxy.identity": self.access_key,
            "s3proxy.credential": self.secret_key,
            "jclouds.provider": "filesystem-nio2",  # s3proxy's own; jclouds' "filesystem" is deprecated
            "jclouds.filesystem.basedir": str(self.buckets_dir),
            # Credentials of the backend, which a local directory does not check; s3proxy insists on them.
            "jclouds.identity": "local",
            "jclouds.credential": "local",
        }

    def prepare(self) -> None:
        self.buckets_dir.mkdir(parents=True, exist_ok=True)
        lines = ["# Written by loginless-stack on every start; edit S3Server.s3proxy_settings instead."]
        lines += [f"{key}={value}" for key, value in self.s3proxy_settings().items()]
        self.properties_file.write_text("\n".join(lines) + "\n")
        self.logback_file.write_text(LOGBACK_CONFIG)

    def jvm_options(self) -> list[str]:
        return [f"-Dlogback.configurationFile={self.logback_file}"]

    def arguments(self) -> list[str]:
        return ["--properties", str(self.properties_file)]

    def probe(self) -> bool:
        # Unsigned, so the answer is 403; any HTTP answer means the server is serving.
        httpx.get(f"{self.endpoint}/", timeout=2)
        return True
