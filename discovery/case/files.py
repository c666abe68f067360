"""Files the tool writes: private, never the case or its companions, never through a symlink.

Every file ir-console creates holds traffic metadata (client addresses, claims, the audit log), so
it is created 0600 (folders 0700). An output (report, export, bundle) is refused when it would
resolve to the case file or one of its companions (``CASE-wal``, ``CASE-shm``, ``CASE.key``,
``CASE.vault``, the audit anchor, ...: every file named ``CASE.*`` or ``CASE-*`` beside it, also
when reached through a symlink or another hard link), when its final component is a symlink, and
when it exists already, unless the caller passed ``force``. A file is written to a private
temporary name and moved into place, so a reader never sees half of it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from discovery.errors import OutputError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def is_companion_name(name: str, case_name: str) -> bool:
    """Whether a file name is the case's own or one of its companions' (``CASE`` followed by
    nothing, or by ``.`` or ``-`` and anything)."""
    return name == case_name or (
        name.startswith(case_name) and name[len(case_name) : len(case_name) + 1] in (".", "-")
    )


def protected_reason(target: Path, case: Path) -> str | None:
    """Why writing ``target`` would damage the case ``case`` (None when it would not)."""
    target_real = Path(os.path.realpath(target))
    case_real = Path(os.path.realpath(case))
    for candidate in {target_real, Path(os.path.abspath(target))}:
        if candidate.parent == case_real.parent and is_companion_name(
            candidate.name, case_real.name
        ):
            return f"it is the case {case} or one of its companion files (WAL, SHM, key, vault, audit anchor)"
    try:
        target_stat = os.stat(target)
    except OSError:
        return None
    folder = case_real.parent
    try:
        names = os.listdir(folder)
    except OSError:
        names = []
    for name in names:
        if not is_companion_name(name, case_real.name):
            continue
        try:
            other = os.stat(folder / name)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (target_stat.st_dev, target_stat.st_ino):
            return f"it is another name (a hard link) of {folder / name}, part of the case {case}"
    return None


def check_output(target: Path, case: Path | None, *, force: bool = False) -> None:
    """Refuse an output path that would damage the case, is a symlink, or (without ``force``)
    already exists; ``OutputError`` names the path and the reason."""
    if case is not None:
        reason = protected_reason(target, case)
        if reason:
            raise OutputError(str(target), f"refusing to write: {reason}")
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(str(target), f"cannot write: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise OutputError(str(target), "refusing to write through a symbolic link")
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(str(target), "is a folder, not a file")
    if not force:
        raise OutputError(str(target), "already exists (pass --force to replace it)")


def check_folder(folder: Path) -> None:
    """Refuse a folder to write into that is a symlink or not a folder."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(str(folder), f"cannot use this folder: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise OutputError(str(folder), "refusing to write into a folder reached by a symbolic link")
    if not stat.S_ISDIR(info.st_mode):
        raise OutputError(str(folder), "is not a folder")


def private_folder(folder: Path) -> Path:
    """Create ``folder`` (and missing parents) 0700; an existing one is used as it is, unless it
    is a symlink."""
    check_folder(folder)
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for part in reversed(missing):
        try:
            os.mkdir(part, PRIVATE_DIR)
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(
                str(part), f"cannot create the folder: {exc.strerror or exc}"
            ) from exc
    return folder


def temporary_beside(target: Path) -> Path:
    """A fresh private (0600) empty file in ``target``'s folder, to be moved into place."""
    for _ in range(16):
        temp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, PRIVATE_FILE)
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(str(target), f"cannot write: {exc.strerror or exc}") from exc
        os.close(fd)
        return temp
    raise OutputError(str(target), "cannot create a temporary file beside it")


def place(temp: Path, target: Path, *, force: bool) -> None:
    """Move a finished temporary file to ``target``: replacing an existing file only with
    ``force``, atomically either way (a hard link refuses an existing target)."""
    try:
        if force:
            os.replace(temp, target)
            return
        try:
            os.link(temp, target)
        except FileExistsError:
            raise OutputError(str(target), "already exists (pass --force to replace it)") from None
        except OSError:  # a file system without hard links: an exclusive rename is not there
            if os.path.lexists(target):
                raise OutputError(
                    str(target), "already exists (pass --force to replace it)"
                ) from None
            os.rename(temp, target)
    except OSError as exc:
        raise OutputError(str(target), f"cannot write: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def write_private(
    target: Path, data: bytes | str, *, case: Path | None, force: bool = False
) -> None:
    """Write a whole output file, private (0600), after ``check_output``."""
    check_output(target, case, force=force)
    body = data.encode("utf-8") if isinstance(data, str) else data
    temp = temporary_beside(target)
    try:
        with open(temp, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise OutputError(str(target), f"cannot write: {exc.strerror or exc}") from exc
    place(temp, target, force=force)
