"""Reading an API description from disk: JSON or YAML, `$ref`s (local and sibling files) resolved
with ``referencing``, validation with openapi-spec-validator; every problem a ``SpecError`` with
the JSON pointer of the place."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urldefrag, urlsplit

from discovery.errors import SpecError
from discovery.ticker import ticking

if TYPE_CHECKING:  # ``referencing`` (with attrs and rpds) and YAML are imported where a spec
    # file is read: the analysis of a case reads its specs from the case, never from a file
    from referencing import Registry, Resource

log = logging.getLogger(__name__)


def pointer(parts: Iterator[Any] | list[Any] | tuple[Any, ...]) -> str:
    """A JSON pointer (RFC 6901) from path parts."""
    out = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return out or "/"


def parse_text(text: str, where: str) -> Any:
    """Parse JSON or YAML (safe loader); errors name the line."""
    import yaml  # here: the analysis of a case reads no spec file

    from discovery import boundedyaml

    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(where, f"invalid JSON: {exc.msg}", f"line {exc.lineno}") from exc
        except RecursionError:
            raise SpecError(
                where, "invalid JSON: nested deeper than the JSON reader goes"
            ) from None
        deep = deeper_than(value, boundedyaml.MAX_DEPTH)
        if deep is not None:  # the place, shortened: its pointer is as deep as the bound
            place = pointer(deep[:12]) + ("/…" if len(deep) > 12 else "")
            raise SpecError(
                where, f"invalid JSON: nested deeper than {boundedyaml.MAX_DEPTH} levels", place
            )
        return value
    try:
        # aliases bounded: an alias bomb is refused, not expanded
        return boundedyaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(where, f"invalid YAML: {problem}", line) from exc


def deeper_than(value: Any, limit: int) -> tuple[Any, ...] | None:
    """The path to the first map or list nested deeper than ``limit`` levels, or None (walked
    without recursion: the value may be as deep as the JSON reader goes)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, parts = stack.pop()
        if isinstance(node, dict):
            children: Iterator[tuple[Any, Any]] = iter(node.items())
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        if len(parts) >= limit:
            return parts
        stack.extend((child, (*parts, key)) for key, child in children)
    return None


def read_text(path: Path) -> tuple[str, str]:
    """One file of a spec as text, with the SHA-256 of its bytes (read once)."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except OSError as exc:
        raise SpecError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(str(path), "not UTF-8 text", f"byte {exc.start}") from exc
    return text, hashlib.sha256(data).hexdigest()


def read_file(path: Path) -> Any:
    """Read and parse one file of a spec."""
    return parse_text(read_text(path)[0], str(path))


_EXTERNAL_REF = re.compile(r"""\$ref['"]?\s*:\s*['"]?(?!#)[^'"\s,}]""")


@dataclass
class SpecDocument:
    """A parsed spec with a resolver for its `$ref`s."""

    path: Path
    root: dict[str, Any]
    uri: str
    registry: Registry[Any]
    sha256: str = ""  # of the file's bytes
    self_contained: bool = False  # no $ref to another file

    @property
    def version(self) -> str:
        """``2.0``, ``3.0.x`` or ``3.1.x``."""
        return str(self.root.get("swagger") or self.root.get("openapi") or "")

    def resolve(self, node: Any, where: str, base: str | None = None) -> tuple[Any, str]:
        """Follow `$ref`s from ``node``; returns (target, base uri of the target)."""
        from referencing.exceptions import NoSuchResource, Unresolvable

        base = base or self.uri
        seen = 0
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = str(node["$ref"])
            seen += 1
            if seen > 32:
                raise SpecError(str(self.path), f"$ref loop through {ref!r}", where)
            try:
                resolved = self.registry.resolver(base).lookup(ref)
            except (Unresolvable, NoSuchResource, LookupError, TypeError, ValueError) as exc:
                # referencing raises KeyError/TypeError/ValueError for a pointer that walks
                # through a value of the wrong kind ("#/parameters/x" when parameters is a list)
                raise SpecError(str(self.path), f"cannot resolve $ref {ref!r}", where) from exc
            node = resolved.contents
            base = urldefrag(_join(base, ref))[0] or base
        return node, base


def _join(base: str, ref: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, ref)


def _retrieve_for(root_dir: Path) -> Any:
    """A ``referencing`` retriever that loads sibling files (file: URIs under the spec's folder)."""
    from referencing import Resource
    from referencing.exceptions import NoSuchResource

    def retrieve(uri: str) -> Resource[Any]:
        parts = urlsplit(uri)
        if parts.scheme != "file":
            raise NoSuchResource(ref=uri)  # type: ignore[call-arg] # air-gapped by design: no remote refs
        target = Path(unquote(parts.path)).resolve()
        if root_dir not in target.parents and target.parent != root_dir:
            raise NoSuchResource(ref=uri)  # type: ignore[call-arg] # only the spec's folder and below
        if not target.is_file():
            raise NoSuchResource(ref=uri)  # type: ignore[call-arg]
        return Resource.opaque(read_file(target))

    return retrieve


def load_document(path: Path) -> SpecDocument:
    """Parse a spec file and prepare its resolver."""
    text, sha256 = read_text(path)
    root = parse_text(text, str(path))
    if not isinstance(root, dict):
        raise SpecError(
            str(path), "not an OpenAPI or Swagger document (top level is not a map)", "/"
        )
    if "swagger" not in root and "openapi" not in root:
        raise SpecError(
            str(path), "not an OpenAPI or Swagger document (no 'openapi' or 'swagger' field)", "/"
        )
    version = str(root.get("swagger") or root.get("openapi"))
    if not (version == "2.0" or version.startswith(("3.0", "3.1"))):
        field = "/swagger" if "swagger" in root else "/openapi"
        raise SpecError(str(path), f"unsupported version {version!r} (2.0, 3.0 and 3.1 are)", field)
    from referencing import Registry, Resource

    resolved = path.resolve()
    uri = resolved.as_uri()
    registry: Registry[Any] = Registry(retrieve=_retrieve_for(resolved.parent))  # type: ignore[call-arg]
    registry = registry.with_resource(uri, Resource.opaque(root))
    return SpecDocument(
        path=path,
        root=root,
        uri=uri,
        registry=registry,
        sha256=sha256,
        self_contained=_EXTERNAL_REF.search(text) is None,
    )


def validation_cache_key(doc: SpecDocument) -> str | None:
    """The key under which a successful validation of this exact document is remembered, or
    None when it cannot be (refs to other files, which may change on their own)."""
    from importlib.metadata import version

    if not doc.self_contained:
        return None
    digest = hashlib.sha256(f"{doc.sha256}\0openapi-spec-validator ".encode())
    digest.update(version("openapi-spec-validator").encode())
    return digest.hexdigest()


def validation_cache_dir() -> Path:
    """Where validated specs are remembered: ``$XDG_CACHE_HOME/ir-console/validated-specs``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ir-console" / "validated-specs"


def validate_document(doc: SpecDocument, progress: Callable[[str], None] | None = None) -> None:
    """Validate with openapi-spec-validator; the first error becomes a SpecError with its pointer.
    ``progress`` is called with ``"validating spec"`` as it starts and every fraction of a
    second while the validator runs (``discovery.ticker``).

    Validating a large spec is slow (about 27 s for GitHub's 1,223 operations), so a document
    that validated once is remembered by its content hash (and the validator's version) and not
    validated again on this machine; only self-contained documents are remembered."""
    key = validation_cache_key(doc)
    marker = validation_cache_dir() / key if key else None
    if marker is not None and marker.exists():
        log.debug("%s: validated before (%s)", doc.path, marker)
        return
    with ticking((lambda: progress("validating spec")) if progress else None):
        _validate_now(doc)
    if marker is not None:
        try:
            marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{doc.path}\n")
        except OSError as exc:  # a read-only home only costs the next import its time
            log.debug("cannot remember the validation of %s: %s", doc.path, exc)


def _validate_now(doc: SpecDocument) -> None:
    from openapi_spec_validator import (
        OpenAPIV2SpecValidator,
        OpenAPIV30SpecValidator,
        OpenAPIV31SpecValidator,
    )
    from referencing.exceptions import Unresolvable

    version = doc.version
    cls: Any = (
        OpenAPIV2SpecValidator
        if version == "2.0"
        else OpenAPIV31SpecValidator
        if version.startswith("3.1")
        else OpenAPIV30SpecValidator
    )
    try:
        for error in cls(doc.root, base_uri=doc.uri).iter_errors():
            parts = list(getattr(error, "absolute_path", []) or [])
            where = pointer(parts) if parts else _semantic_pointer(str(error.message))
            if not _exists(doc.root, where):
                # errors in a schema object carry a path relative to that schema
                where = "/"
            raise SpecError(str(doc.path), _short(str(error.message)), where)
    except RecursionError:
        # the validator recurses through $refs (a chain of thousands of schemas): nesting alone
        # is bounded at parsing
        raise SpecError(
            str(doc.path),
            "cannot validate: $refs lead deeper than the validator follows "
            "(--no-validate skips validation)",
            "/",
        ) from None
    except Unresolvable as exc:
        ref = str(getattr(exc, "ref", exc))
        where = find_ref(doc.root, ref) or find_ref(doc.root, "#" + ref) or "/"
        raise SpecError(str(doc.path), f"cannot resolve $ref {ref!r}", where) from exc
    except (LookupError, TypeError, ValueError) as exc:
        # the validator follows $refs with referencing, which raises these for a pointer through
        # a value of the wrong kind; its own checks assume the types its schema just checked
        raise SpecError(
            str(doc.path),
            "cannot validate: a $ref or a value of the wrong kind "
            f"({type(exc).__name__}: {_short(str(exc), 120)})",
            "/",
        ) from exc


def _exists(root: Any, where: str) -> bool:
    """True when a JSON pointer names a node of the document ("/" names the root)."""
    if where == "/":
        return True
    node = root
    for raw in where[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _short(message: str, limit: int = 200) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _semantic_pointer(message: str) -> str:
    """Best pointer for validator errors that carry no path ("... in '/users/{id}' ...")."""
    match = re.search(r"for '(\w+)' operation in '([^']+)'", message)
    if match:
        return pointer(["paths", match[2], match[1]])
    match = re.search(r"in '(/[^']*)'", message)
    if match:
        return pointer(["paths", match[1]])
    return "/"


def find_ref(node: Any, ref: str) -> str | None:
    """The JSON pointer of the first ``$ref`` equal to ``ref`` in a document, in document order
    (walked without recursion)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(node, ())]
    while stack:
        value, parts = stack.pop()
        if isinstance(value, dict):
            if value.get("$ref") == ref:
                return pointer([*parts, "$ref"])
            stack.extend((child, (*parts, key)) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((value[i], (*parts, i)) for i in reversed(range(len(value))))
    return None
