"""Run many short `chok` commands fast: fork them from an interpreter that has
already imported chok (a "zygote"), instead of starting Python for each.

Each command still runs in its own process, with its own environment,
working folder, standard input, output and error, and its own exit code:
the child calls ``chok.cli.main.main()`` exactly as the ``chok`` script
does. Only importing (about 0.4 s per command) is shared. The bad-input
table runs ~150 commands; this makes that seconds instead of a minute.

Protocol (one JSON object per line on two pipes whose descriptors are the
arguments, so the children's standard streams stay untouched):
request  {"args": [...], "env": {...}, "cwd": "...", "stdin": "..." | null}
answer   {"code": int, "out": "...", "err": "..."}
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import traceback
from typing import Any


def _preload() -> None:
    # Everything a command may import lazily, so that children start warm.
    import chok.channel.live
    import chok.channel.player
    import chok.channel.timeline
    import chok.cli.main
    import chok.kafka.admin
    import chok.kafka.handshake
    import chok.provision.kafka_backend
    import chok.provision.local
    import chok.provision.service

    chok.cli.main._register_optional()


def _child(request: dict[str, Any], out_path: str, err_path: str, pipes: tuple[int, int]) -> None:
    """In the forked process: become the command, then exit with its code."""
    code: object = 1
    atexit._clear()  # the zygote's exit handlers are not this command's
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        with tempfile.TemporaryFile() as stdin:
            stdin.write((request.get("stdin") or "").encode())
            stdin.seek(0)
            os.dup2(stdin.fileno(), 0)
        os.dup2(os.open(out_path, os.O_WRONLY), 1)
        os.dup2(os.open(err_path, os.O_WRONLY), 2)
        for fd in pipes:
            os.close(fd)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), errors="backslashreplace", line_buffering=True
        )
        sys.argv = ["chok", *request["args"]]
        from chok.cli.main import main

        main()
        code = 0
    except SystemExit as done:
        code = done.code
    except BaseException:  # what the interpreter would print for an uncaught error
        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        os._exit(code)


def _serve(requests_fd: int, answers_fd: int) -> None:
    _preload()
    requests = os.fdopen(requests_fd, "r")
    answers = os.fdopen(answers_fd, "w")
    for line in requests:
        request = json.loads(line)
        scratch = tempfile.mkdtemp(prefix="chok-fork-")
        out_path, err_path = os.path.join(scratch, "out"), os.path.join(scratch, "err")
        for path in (out_path, err_path):
            open(path, "w").close()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request, out_path, err_path, (requests_fd, answers_fd))
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        with open(out_path, errors="replace") as out, open(err_path, errors="replace") as err:
            answer = {"code": code, "out": out.read(), "err": err.read()}
        shutil.rmtree(scratch, ignore_errors=True)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS threads to lose in fork
    _serve(int(sys.argv[1]), int(sys.argv[2]))
