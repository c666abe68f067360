"""Errors raised by ``runbooks``; the CLI maps each to a one-line message and an exit code.

RunbookError                   base (exit 1)
├── RunbookFormatError         a runbook file is invalid: names the file, step, field, line (exit 2)
├── RunbookNotFound            no runbook or run with that id (exit 2)
├── RunbookUsageError          bad inputs or target for a run, or a run that cannot resume (exit 2)
├── ActionError                an action failed (provider said no, timeout, transport error)
├── AuditError                 the audit log could not be written or does not verify
└── ApprovalRequired           a run stopped at a gate (exit 3)
"""

from __future__ import annotations


class RunbookError(Exception):
    """Base of every error ``runbooks`` raises on purpose."""

    exit_code = 1


class RunbookFormatError(RunbookError):
    """A runbook file is invalid."""

    exit_code = 2


class RunbookNotFound(RunbookError):
    """No runbook, or no run, with that id."""

    exit_code = 2


class RunbookUsageError(RunbookError):
    """A run was started or resumed with bad inputs, a wrong target, or cannot go on."""

    exit_code = 2


class ActionError(RunbookError):
    """An action failed."""


class AuditError(RunbookError):
    """The audit log could not be written, or it does not verify."""


class ApprovalRequired(RunbookError):
    """A run stopped at an approval gate."""

    exit_code = 3
