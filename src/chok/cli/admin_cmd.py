"""`chok admin`: set up the cluster, its channels and people (the person who runs it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

import click

from chok.cli import admin_serve_cmd, admin_users_cmd
from chok.cli.output import emit_json, info
from chok.errors import UsageError
from chok.protocol.client_config import MAX_LIVE_BATCH_MS
from chok.provision import aiven_backend, kafka_backend, local, service
from chok.provision.access import DEFAULT_PRINCIPAL_FORMAT
from chok.provision.aiven_api import DEFAULT_API_URL
from chok.provision.server import parse_duration


@click.group("admin")
def admin_group() -> None:
    """Provision the cluster: channels, people, their bundles.

    \b
    A family's set-up on this machine (the embedded broker):
      chok admin init --host 192.0.2.10     broker + channels 1 "Main", 2 "Secondary"
      chok admin add-user mum               writes mum.chok: give it to mum
      chok admin add-user dad --channels 1
      chok admin serve                      hand bundles over by link / QR code
    Other clusters: `init --backend kafka` or `init --backend aiven`.
    """


_KAFKA_OPTS = ("admin_config", "ca_cert", "ca_key", "server_ca", "user_bootstrap", "replication")
_AIVEN_OPTS = ("project", "service_name", "token_file", "remove_wildcard_acls")


def _check_options(backend: str, given: Mapping[str, object]) -> None:
    for name, value in given.items():
        if not value:
            continue
        owner = "kafka" if name in _KAFKA_OPTS else "aiven" if name in _AIVEN_OPTS else None
        if owner and owner != backend:
            flag = "--" + name.replace("_name", "").replace("_", "-")
            raise UsageError(f"{flag} is for --backend {owner}")
    if backend == "kafka" and not given.get("admin_config"):
        raise UsageError("--backend kafka needs --admin-config FILE (the admin's client settings)")
    if backend == "aiven" and not (given.get("project") and given.get("service_name")):
        raise UsageError("--backend aiven needs --project NAME and --service NAME")
    if bool(given.get("ca_cert")) != bool(given.get("ca_key")):
        raise UsageError("give --ca-cert and --ca-key together")


@admin_group.command("init")
@click.option(
    "--backend",
    type=click.Choice(["local", "kafka", "aiven"]),
    default="local",
    show_default=True,
    help="Who runs the cluster: the embedded broker, any Kafka you administer, or Aiven.",
)
@click.option(
    "--channels", "channel_count", default=2, show_default=True, help="How many channels."
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="NAME",
    help="local: a name or address other devices use to reach this broker (repeatable).",
)
@click.option(
    "--admin-config",
    type=click.Path(path_type=Path),
    help="kafka: your admin client settings (librdkafka properties or JSON).",
)
@click.option("--ca-cert", type=click.Path(path_type=Path), help="kafka: your CA's certificate.")
@click.option("--ca-key", type=click.Path(path_type=Path), help="kafka: your CA's private key.")
@click.option(
    "--server-ca",
    type=click.Path(path_type=Path),
    help="kafka: the CA that signed the brokers (default: ssl.ca.location).",
)
@click.option(
    "--user-bootstrap",
    metavar="HOST:PORT",
    help="kafka: the address people connect to (default: bootstrap.servers).",
)
@click.option(
    "--principal-format",
    default=DEFAULT_PRINCIPAL_FORMAT,
    show_default=True,
    help="kafka: the principal your brokers derive from a CN, e.g. 'CN={cn},O=chok'.",
)
@click.option("--replication", type=int, help="kafka: replicas per topic (default: up to 3).")
@click.option("--project", help="aiven: the Aiven project (created if missing).")
@click.option("--service", "service_name", help="aiven: the Kafka service (created if missing).")
@click.option(
    "--cloud",
    default=aiven_backend.DEFAULT_CLOUD,
    show_default=True,
    help="aiven: cloud region for a new project/service.",
)
@click.option(
    "--plan",
    default=aiven_backend.DEFAULT_PLAN,
    show_default=True,
    help="aiven: service plan for a new service.",
)
@click.option("--api-url", default=DEFAULT_API_URL, show_default=True, help="aiven: API address.")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    help="aiven: file holding the API token (0600). Default: $AIVEN_TOKEN.",
)
@click.option(
    "--wait",
    "wait",
    default="15m",
    show_default=True,
    help="aiven: how long to wait for a new service to run.",
)
@click.option(
    "--remove-wildcard-acls",
    is_flag=True,
    help="aiven: delete ACLs that grant every user at once (the original set-up's).",
)
@click.option(
    "--live-batch-ms",
    type=click.IntRange(0, MAX_LIVE_BATCH_MS),
    metavar="MS",
    help="Hosted plans: people's bundles fetch live frames in batches of about MS ms "
    "of speech (240 fits ~60 listeners per talker in 250 KB/s of egress; adds ~0.1-0.5 s). "
    "0: every frame at once (the default).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def init_cmd(
    backend: str,
    channel_count: int,
    hosts: tuple[str, ...],
    admin_config: Path | None,
    ca_cert: Path | None,
    ca_key: Path | None,
    server_ca: Path | None,
    user_bootstrap: str | None,
    principal_format: str,
    replication: int | None,
    project: str | None,
    service_name: str | None,
    cloud: str,
    plan: str,
    api_url: str,
    token_file: Path | None,
    wait: str,
    remove_wildcard_acls: bool,
    live_batch_ms: int | None,
    as_json: bool,
) -> None:
    """Create the channels' topics on a cluster (and start the local broker if needed).

    Safe to run again: existing topics and channels are kept.

    \b
    Examples:
      chok admin init
      chok admin init --backend kafka --admin-config admin.properties \\
          --ca-cert ca.pem --ca-key ca.key
      AIVEN_TOKEN=... chok admin init --backend aiven --project family --service chok-kafka
    """
    given = {
        "admin_config": admin_config, "ca_cert": ca_cert, "ca_key": ca_key,
        "server_ca": server_ca, "user_bootstrap": user_bootstrap, "replication": replication,
        "project": project, "service_name": service_name, "token_file": token_file,
        "remove_wildcard_acls": remove_wildcard_acls,
    }  # fmt: skip
    _check_options(backend, given)
    if hosts and backend != "local":
        raise UsageError("--host is for --backend local")
    result: service.InitResult
    if backend == "local":
        result = local.init(list(hosts), channel_count, info)
    elif backend == "kafka":
        assert admin_config is not None
        result = kafka_backend.init(
            admin_config=admin_config,
            ca=(ca_cert, ca_key) if ca_cert and ca_key else None,
            server_ca=server_ca,
            user_bootstrap=user_bootstrap,
            principal_format=principal_format,
            replication=replication,
            channel_count=channel_count,
            progress=info,
        )
    else:
        assert project and service_name
        result = aiven_backend.init(
            project=project,
            service_name=service_name,
            cloud=cloud,
            plan=plan,
            api_url=api_url,
            token_file=token_file,
            channel_count=channel_count,
            wait_s=parse_duration(wait),
            remove_wildcard_acls=remove_wildcard_acls,
            progress=info,
        )
    if live_batch_ms is not None:
        service.set_live_batch(live_batch_ms)
    if as_json:
        emit_json(asdict(result))
        return
    started = " (started)" if result.broker_started else ""
    click.echo(f"{result.backend} cluster: {result.bootstrap}{started}")
    for channel in result.channels:
        click.echo(f"channel {channel.number}: {channel.name}")
    if result.topics_created:
        click.echo(f"created topics: {', '.join(result.topics_created)}")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo("next: `chok admin add-user NAME` for each person")


@admin_group.command("add-channel")
@click.argument("name")
@click.option(
    "--private",
    is_flag=True,
    help="End-to-end encrypted: only its members can hear it, not whoever runs Kafka.",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def add_channel_cmd(name: str, private: bool, as_json: bool) -> None:
    """Create a new channel NAME (the next free number). Nobody is in it yet.

    A --private channel's audio and records are sealed with keys only its
    members hold; a new key begins whenever someone leaves it. The Android
    app cannot use private channels.
    """
    channel, created = service.add_channel(name, private=private)
    if as_json:
        emit_json({**asdict(channel), "topics_created": created})
        return
    kind = " (private: end-to-end encrypted)" if channel.private else ""
    click.echo(f"channel {channel.number}: {channel.name}{kind}")
    click.echo(f"next: `chok admin grant PERSON {channel.number}` for each member")


@admin_group.command("list-channels")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_channels_cmd(as_json: bool) -> None:
    """List the channels and who belongs to each."""
    rows = service.list_channels()
    if as_json:
        emit_json([{**asdict(channel), "members": members} for channel, members in rows])
        return
    for channel, members in rows:
        name = channel.name + (" (private)" if channel.private else "")
        click.echo(f"{channel.number:>3}  {name:<30} {', '.join(members) or '-'}")


@admin_group.command("grant")
@click.argument("name")
@click.argument("channel")
def grant_cmd(name: str, channel: str) -> None:
    """Let person NAME read and write CHANNEL (a number or a name)."""
    record, found = service.grant(name, channel)
    click.echo(f"{record.name} may now use channel {found.number} {found.name}")
    click.echo("their chok lists it within a minute (no new bundle needed)")


@admin_group.command("delete")
@click.argument("tx_id", metavar="ID", type=int)
@click.option("--channel", "-c", type=int, required=True, help="The recording's channel.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def delete_cmd(tx_id: int, channel: int, as_json: bool) -> None:
    """Take back anyone's recording ID on CHANNEL, for everyone (see `chok delete`)."""
    from chok.channel.delete import delete_transmission
    from chok.channel.session import ChannelSession
    from chok.protocol.client_config import ChannelConfig

    creds = service.admin_credentials()
    config = ChannelConfig.standard(channel, f"channel {channel}")
    session = ChannelSession("chok-admin", "admin", creds, config)
    deleted = delete_transmission(session, tx_id, as_admin=True)
    if as_json:
        emit_json({"id": tx_id, "channel": channel, "deleted": True,
                   "user": deleted.transmission.user_id})  # fmt: skip
        return
    click.echo(f"took back {deleted.transmission.user_id}'s recording {tx_id} on channel {channel}")
    click.echo("its audio stays on the broker until retention removes it (7 days by default)")


@admin_group.command("deny")
@click.argument("name")
@click.argument("channel")
def deny_cmd(name: str, channel: str) -> None:
    """Take CHANNEL (a number or a name) away from person NAME, at once."""
    record, found = service.deny(name, channel)
    click.echo(f"{record.name} can no longer use channel {found.number} {found.name}")


for _command in (*admin_users_cmd.COMMANDS, admin_serve_cmd.serve_cmd):
    admin_group.add_command(_command)
