"""``command``: run a program as an argv list (never a shell) with an allowlisted environment
and a timeout; a non-zero exit fails the step."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from pydantic import Field

from runbooks.actions.base import Action, ActionContext, Args
from runbooks.errors import ActionError

BASE_ENV = ("PATH", "LANG", "LC_ALL", "HOME", "TZ")
MAX_OUTPUT = 4096


class CommandArgs(Args):
    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)  # explicit values
    pass_env: list[str] = Field(default_factory=list)  # names copied from our environment
    cwd: str | None = None
    ok_codes: list[int] = Field(default_factory=lambda: [0])


class Command(Action[CommandArgs]):
    """Run ``argv`` directly (``shell=False``); only allowlisted environment variables pass."""

    name = "command"
    args = CommandArgs

    def plan(self, args: CommandArgs, ctx: ActionContext) -> str:
        return f"run {args.argv!r} (no shell, timeout {ctx.timeout:g}s)"

    def run(self, args: CommandArgs, ctx: ActionContext) -> dict[str, Any]:
        env = {k: os.environ[k] for k in (*BASE_ENV, *args.pass_env) if k in os.environ}
        env.update(args.env)
        try:
            proc = subprocess.run(
                args.argv,
                shell=False,
                env=env,
                cwd=args.cwd,
                capture_output=True,
                timeout=ctx.timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise ActionError(
                f"command {args.argv[0]!r}: timed out after {ctx.timeout:g}s"
            ) from None
        except OSError as exc:
            raise ActionError(f"command {args.argv[0]!r}: {exc.strerror or exc}") from None
        stdout = proc.stdout.decode("utf-8", "replace")[-MAX_OUTPUT:]
        stderr = proc.stderr.decode("utf-8", "replace")[-MAX_OUTPUT:]
        if proc.returncode not in args.ok_codes:
            tail = stderr.strip().splitlines()[-1:] or [""]
            raise ActionError(f"command {args.argv[0]!r} exited {proc.returncode}: {tail[0][:200]}")
        return {"returncode": proc.returncode, "stdout": stdout, "stderr": stderr}


ACTION = Command()
