"""`worktally otlp env|secret`: what an AI tool needs to export to the agent's OTLP receiver,
printed for a shell profile or a tool's own settings."""

from __future__ import annotations

import click

from worktally.client import config
from worktally.client.cli.output import echo_json, json_option
from worktally.client.control_client import ask
from worktally.client.errors import WorktallyError
from worktally.client.otlp import secret as otlp_secret
from worktally.client.otlp.receiver import LOOPBACK

PROTOCOL = "http/protobuf"


def _port(cfg: config.Config) -> int:
    """The running agent's port (it may have picked one), else the configured one."""
    status = ask({"cmd": "status"}, timeout=2.0)
    running = status.get("otlp_port") if status else None
    if isinstance(running, int) and running > 0:
        return running
    if cfg.otlp.port:
        return cfg.otlp.port
    raise WorktallyError(
        "otlp.port is 0, so the agent picks a free port when it starts and none runs now; "
        "start it (`worktally agent`) or set a fixed port (`worktally config set otlp.port "
        "4319`)"
    )


def _warnings(cfg: config.Config) -> None:
    if not cfg.otlp.enabled:
        click.echo("worktally: otlp.enabled is false, so no receiver listens; "
                   "`worktally config set otlp.enabled true` and restart the agent", err=True)
    if not cfg.otlp.require_secret:
        click.echo("worktally: otlp.require_secret is false, so exports without the secret "
                   "are accepted too; `worktally config set otlp.require_secret true` and "
                   "restart the agent to refuse them", err=True)


@click.group("otlp")
def otlp_group() -> None:
    """Point AI tools' OpenTelemetry export at the agent's loopback receiver."""


@otlp_group.command("env")
@json_option
def env_command(as_json: bool) -> None:
    """Print the OTEL_EXPORTER_OTLP_* lines for a shell profile, secret included.

    The secret is made once (0600 in WORKTALLY_HOME); every run prints the same lines.
    Notes about settings go to stderr, so `eval "$(worktally otlp env)"` works.
    """
    cfg = config.load()
    endpoint = f"http://{LOOPBACK}:{_port(cfg)}"
    headers = otlp_secret.headers_env_value(otlp_secret.load_or_create())
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": PROTOCOL,
           otlp_secret.HEADERS_ENV: headers}
    if as_json:
        echo_json({"env": env, "endpoint": endpoint, "protocol": PROTOCOL, "headers": headers,
                   "enabled": cfg.otlp.enabled, "require_secret": cfg.otlp.require_secret})
        return
    _warnings(cfg)
    for name, value in env.items():
        click.echo(f"export {name}={value}")


@otlp_group.command("secret")
def secret_command() -> None:
    """Print the secret alone, for a tool that takes its headers from a file (Codex)."""
    cfg = config.load()
    _warnings(cfg)
    click.echo(otlp_secret.load_or_create())


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(otlp_group)
