"""Errors raised by ``discovery``; the CLI maps each to a one-line message and an exit code.

    DiscoveryError                 base; ``exit_code`` says how the CLI exits
    ├── CaseFileError              the case file cannot be used (not a case, newer schema, corrupt)
    ├── InputError                 an input cannot be used at all (exit 2): names the file and place
    │   ├── UnknownFormatError     no reader recognises the file
    │   └── SpecError              a broken API spec (carries the JSON pointer of the problem)
    ├── SubjectNotFound            a credential / identity / endpoint named by the user is unknown
    ├── UnsupportedSubject         an analysis does not apply to this kind of subject
    ├── CaptureError               a live capture or proxy could not start (privilege, interface)
    ├── OutputError                an output would damage the case, follow a symlink or replace a
    │                              file without --force (exit 2)
    └── InputBusy                  an input is being ingested by another live process

Third-party errors are translated where they happen: ``raise InputError(...) from exc``.
"""

from __future__ import annotations


class DiscoveryError(Exception):
    """Base of every error ``discovery`` raises on purpose."""

    exit_code = 1


class CaseFileError(DiscoveryError):
    """The case file is not an ir-console case, is from a newer version, or is damaged."""

    exit_code = 2


class InputError(DiscoveryError):
    """An input file (capture, log, HAR, spec, register) cannot be used at all."""

    exit_code = 2

    def __init__(self, path: str, reason: str, where: str | None = None) -> None:
        self.path = path
        self.reason = reason
        self.where = where
        place = f" ({where})" if where else ""
        super().__init__(f"{path}{place}: {reason}")


class UnknownFormatError(InputError):
    """No reader recognises the file's content."""


class SpecError(InputError):
    """An API description is broken; ``where`` holds the JSON pointer of the problem."""


class SubjectNotFound(DiscoveryError):
    """A subject (credential id, identity, endpoint) named by the user is not in the case."""

    exit_code = 2


class UnsupportedSubject(DiscoveryError):
    """An analysis was asked about a kind of subject it does not apply to (e.g. blast radius of a host)."""

    exit_code = 2


class CaptureError(DiscoveryError):
    """Live capture or the proxy could not start (missing privilege, unknown interface, port)."""

    exit_code = 2


class OutputError(DiscoveryError):
    """An output file cannot be written where asked: it would be the case or one of its
    companions, a symlink, or an existing file replaced without ``--force``."""

    exit_code = 2

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class InputBusy(DiscoveryError):
    """An input is being ingested by another live process (its owner is named)."""

    exit_code = 1
