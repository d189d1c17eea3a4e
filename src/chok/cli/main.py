"""The `chok` command."""

from __future__ import annotations

import logging
import os
import sys

import click

from chok import __version__
from chok.cli.broker_cmd import broker_group
from chok.cli.output import fail
from chok.errors import (
    AccessDeniedError,
    AuthenticationError,
    ChokError,
    KafkaError,
    NotAMemberError,
    TopicMissingError,
    storage_error,
)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="chok")
@click.option(
    "--profile",
    envvar="CHOK_PROFILE",
    metavar="NAME",
    help="Which joined profile to use (default: the last joined). Env: CHOK_PROFILE.",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Also show Kafka's own messages (e.g. why the broker cannot be reached).",
)
@click.pass_context
def cli(ctx: click.Context, profile: str | None, verbose: bool) -> None:
    """chok: a walkie-talkie for your family, over Apache Kafka.

    Hold to talk, everyone on the channel hears you live, and every recording
    lands on a timeline you can replay and react to.

    \b
    Getting started (the admin):
      chok admin init               start the local broker, create channels
      chok admin add-user alice     write alice.chok, a bundle for alice
    Getting started (everyone):
      chok join alice.chok          install your bundle on this machine
      chok whoami                   who you are, which broker, which channels

    All state lives in $CHOK_HOME (default: your user data directory).
    """
    ctx.ensure_object(dict)
    ctx.obj["profile"] = profile
    ctx.obj["verbose"] = verbose
    _selected["profile"] = profile
    _selected["command"] = ctx.invoked_subcommand


# The --profile and command of this run, for explaining a refusal after the fact.
_selected: dict[str, str | None] = {}
# Commands that connect with the admin's credentials, not a person's profile.
_ADMIN_COMMANDS = {"admin", "broker", "bench", "demo"}


def _explain_unreachable(error: ChokError) -> ChokError:
    """librdkafka calls a refused certificate "all brokers down": ask the broker."""
    from chok import profiles
    from chok.kafka import handshake

    if _selected.get("command") in _ADMIN_COMMANDS:
        return error
    try:
        handshake.check(profiles.active(_selected.get("profile")).credentials)
    except AuthenticationError as precise:
        return precise
    except ChokError:
        pass
    return error


def _explain_denial(error: ChokError) -> ChokError:
    """Kafka answers a revoked person like a stranger; ask once more, precisely."""
    from chok import profiles
    from chok.kafka.admin import Admin

    try:
        profile = profiles.active(_selected.get("profile"))
        topics = [t for c in profile.config.channels for t in (c.audio_topic, c.metadata_topic)]
        Admin(profile.credentials, timeout=10).verify_access(topics)
    except ChokError as precise:
        return precise
    return error


cli.add_command(broker_group)


def _register_optional() -> None:
    # Command groups that live in their own modules; each registers itself.
    from chok.cli import (
        admin_cmd,
        archive_cmd,
        bench_cmd,
        demo_cmd,
        family_cmd,
        gui_cmd,
        listen_cmd,
        profile_cmd,
        start_cmd,
        talk_cmd,
        timeline_cmd,
    )

    cli.add_command(admin_cmd.admin_group)
    for command in (
        *profile_cmd.COMMANDS,
        talk_cmd.talk_cmd,
        listen_cmd.listen_cmd,
        timeline_cmd.timeline_cmd,
        timeline_cmd.play_cmd,
        timeline_cmd.export_cmd,
        timeline_cmd.react_cmd,
        demo_cmd.demo_cmd,
        bench_cmd.bench_cmd,
        start_cmd.start_cmd,
        gui_cmd.gui_cmd,
        start_cmd.devices_cmd,
        *family_cmd.COMMANDS,
        archive_cmd.archive_group,
    ):
        cli.add_command(command)


def _show_warnings() -> None:
    """chok's library modules warn through logging: one 'chok: warning:' line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("chok: warning: %(message)s"))
    logger = logging.getLogger("chok")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)


def main() -> None:
    _show_warnings()
    _register_optional()
    try:
        result = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 130)
    except click.ClickException as exc:
        # Usage errors: click's own message, on one line, exit 2.
        ctx_hint = " (see --help)" if isinstance(exc, click.UsageError) else ""
        fail(exc.format_message() + ctx_hint, exc.exit_code)
    except NotAMemberError as exc:
        fail(str(exc), exc.exit_code)
    except (AccessDeniedError, TopicMissingError) as exc:
        explained = _explain_denial(exc)
        fail(str(explained), explained.exit_code)
    except KafkaError as exc:
        explained = _explain_unreachable(exc) if exc.exit_code == KafkaError.exit_code else exc
        fail(str(explained), explained.exit_code)
    except ChokError as exc:
        fail(str(exc), exc.exit_code)
    except BrokenPipeError:
        os._exit(0)
    except OSError as exc:
        # A file operation no module converted: still one line, never a traceback.
        where = f" {exc.filename}" if exc.filename else ""
        converted = storage_error(exc, f"use{where}")
        fail(str(converted), converted.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    code = result if isinstance(result, int) else 0
    if code == 0:
        _save_caches()
    sys.exit(code)


def _save_caches() -> None:
    """What the command learnt of signatures and keys, kept for the next one
    (only after success: a command that fails changes nothing on disk)."""
    security = sys.modules.get("chok.channel.security")
    if security is not None:
        security.save_all()
