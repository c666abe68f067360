"""What ir-console keeps of a spec: its hosts and operations (full templates, parameters with
their schemas, deprecation, effective security), extracted from a ``SpecDocument``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from discovery.analyse.specs.document import SpecDocument, pointer
from discovery.errors import SpecError

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PARAM = re.compile(r"\{([^{}/]+)\}")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_SCHEMA_KEYS = ("type", "format", "enum", "pattern", "minimum", "maximum")


@dataclass(frozen=True)
class SpecOperation:
    """One documented (host, method, template) with what matching and the findings need."""

    host: str
    method: str  # upper case
    template: str  # server path prefix + spec path, normalised ("/v1/users/{id}")
    operation_id: str | None = None
    deprecated: bool = False
    security: list[dict[str, list[str]]] | None = None  # effective; [] = public; None = unset
    parameters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def scopes(self) -> list[str]:
        """Every scope any security requirement of the operation names."""
        found: dict[str, None] = {}
        for requirement in self.security or []:
            for scopes in requirement.values():
                for scope in scopes:
                    found.setdefault(scope, None)
        return list(found)


@dataclass(frozen=True)
class LoadedSpec:
    """A spec's identity and its operations, ready to be written to the case."""

    title: str
    version: str | None
    openapi_version: str
    hosts: list[dict[str, str]]  # [{"host", "base_path"}]
    operations: list[SpecOperation]
    security_schemes: dict[str, dict[str, Any]]
    sha256: str = ""  # of the spec file's bytes: its identity in the case


def join_template(base_path: str, path: str) -> str:
    """Server prefix + spec path, with duplicate and trailing slashes removed."""
    joined = "/".join(part for part in (base_path + "/" + path).split("/") if part)
    return "/" + joined


def _normal_host(host: str, scheme: str | None) -> str:
    host = host.strip().lower().rstrip(".")
    if ":" in host and not host.endswith("]"):
        name, _, port = host.rpartition(":")
        if scheme and _DEFAULT_PORTS.get(scheme) == port:
            return name
        if scheme is None and port in ("80", "443"):
            return name
    return host


def _server_targets(doc: SpecDocument, servers: Any, where: str) -> list[tuple[str | None, str]]:
    """(host or None when relative, base path) of each server of a 3.x ``servers`` list."""
    if not servers:
        return [(None, "")]
    if not isinstance(servers, list):
        raise SpecError(str(doc.path), "'servers' must be a list", where)
    out: list[tuple[str | None, str]] = []
    for i, server in enumerate(servers):
        if not isinstance(server, Mapping) or not isinstance(server.get("url"), str):
            raise SpecError(str(doc.path), "a server needs a 'url' string", f"{where}/{i}")
        url = str(server["url"])
        variables = server.get("variables") or {}
        for name, spec in variables.items() if isinstance(variables, Mapping) else ():
            default = spec.get("default") if isinstance(spec, Mapping) else None
            if default is None:
                raise SpecError(
                    str(doc.path),
                    f"server variable {name!r} has no default",
                    f"{where}/{i}/variables{pointer([name])}",
                )
            url = url.replace("{" + str(name) + "}", str(default))
        if "{" in url:
            raise SpecError(
                str(doc.path), f"server url {url!r} uses an undefined variable", f"{where}/{i}/url"
            )
        if "://" in url or url.startswith("//"):
            try:
                parts = urlsplit(url if "://" in url else "https:" + url)
            except ValueError as exc:  # e.g. a bad bracketed (IPv6) host
                raise SpecError(
                    str(doc.path),
                    f"server url {url!r} is not a valid URL: {exc}",
                    f"{where}/{i}/url",
                ) from exc
            if not parts.netloc:
                raise SpecError(
                    str(doc.path), f"server url {url!r} has no host", f"{where}/{i}/url"
                )
            out.append((_normal_host(parts.netloc, parts.scheme or None), parts.path.rstrip("/")))
        else:
            out.append((None, ("/" + url.strip("/")) if url.strip("/") else ""))
    return out


def _swagger_targets(root: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    host = root.get("host")
    base = str(root.get("basePath") or "").rstrip("/")
    schemes = root.get("schemes") or []
    scheme = schemes[0] if isinstance(schemes, list) and len(schemes) == 1 else None
    return [(_normal_host(str(host), scheme) if host else None, base)]


def _compact_schema(doc: SpecDocument, schema: Any, where: str, base: str) -> dict[str, Any]:
    """The parts of a parameter schema that help matching (type, format, enum, pattern)."""
    schema, _ = doc.resolve(schema, where, base)
    if not isinstance(schema, Mapping):
        return {}
    out = {k: schema[k] for k in _SCHEMA_KEYS if k in schema}
    if isinstance(out.get("type"), list):  # 3.1: ["integer", "null"]
        kinds = [t for t in out["type"] if t != "null"]
        if len(kinds) == 1:
            out["type"] = kinds[0]
        else:
            out.pop("type")
    return out


def _parameters(
    doc: SpecDocument, items: Any, where: str, base: str
) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    if items is None:
        return found
    if not isinstance(items, list):
        raise SpecError(str(doc.path), "'parameters' must be a list", where)
    for i, raw in enumerate(items):
        here = f"{where}/{i}"
        param, pbase = doc.resolve(raw, here, base)
        if not isinstance(param, Mapping) or "name" not in param or "in" not in param:
            raise SpecError(str(doc.path), "a parameter needs 'name' and 'in'", here)
        location = str(param["in"])
        if location == "body":
            continue
        if "schema" in param:
            schema = _compact_schema(doc, param["schema"], f"{here}/schema", pbase)
        else:  # Swagger 2.0: the schema keywords sit on the parameter itself
            schema = {k: param[k] for k in _SCHEMA_KEYS if k in param}
        found[(str(param["name"]), location)] = {
            "name": str(param["name"]),
            "in": location,
            "required": bool(param.get("required", location == "path")),
            "deprecated": bool(param.get("deprecated", False)),
            "schema": schema,
        } | {k: True for k in ("allowReserved", "x-multi-segment") if param.get(k) is True}
    return found


def _security(doc: SpecDocument, value: Any, where: str) -> list[dict[str, list[str]]]:
    if not isinstance(value, list):
        raise SpecError(str(doc.path), "'security' must be a list of requirements", where)
    out: list[dict[str, list[str]]] = []
    for i, requirement in enumerate(value):
        if not isinstance(requirement, Mapping):
            raise SpecError(str(doc.path), "a security requirement must be a map", f"{where}/{i}")
        for k, v in requirement.items():
            if v is not None and not isinstance(v, list):
                raise SpecError(
                    str(doc.path),
                    f"the scopes of {k!r} must be a list",
                    f"{where}/{i}{pointer([k])}",
                )
        out.append({str(k): [str(s) for s in (v or [])] for k, v in requirement.items()})
    return out


def _security_schemes(doc: SpecDocument) -> dict[str, dict[str, Any]]:
    root = doc.root
    if doc.version == "2.0":
        raw, where = root.get("securityDefinitions") or {}, "/securityDefinitions"
    else:
        components = root.get("components")
        raw = components.get("securitySchemes") if isinstance(components, Mapping) else None
        where = "/components/securitySchemes"
    out: dict[str, dict[str, Any]] = {}
    for name, value in raw.items() if isinstance(raw, Mapping) else ():
        scheme, _ = doc.resolve(value, f"{where}/{name}")
        if isinstance(scheme, Mapping):
            out[str(name)] = {
                k: scheme[k]
                for k in ("type", "scheme", "in", "name", "bearerFormat")
                if k in scheme
            }
    return out


def extract(doc: SpecDocument, host: str | None = None) -> LoadedSpec:
    """Every operation of the spec, per host (``host`` overrides the spec's own hosts)."""
    root = doc.root
    swagger = doc.version == "2.0"
    raw_info = root.get("info")
    info: Mapping[str, Any] = raw_info if isinstance(raw_info, Mapping) else {}
    paths = root.get("paths") or {}
    if not isinstance(paths, Mapping):
        raise SpecError(str(doc.path), "'paths' must be a map", "/paths")
    root_targets = (
        _swagger_targets(root) if swagger else _server_targets(doc, root.get("servers"), "/servers")
    )
    root_security = _security(doc, root["security"], "/security") if "security" in root else None
    override = _normal_host(host, None) if host else None
    operations: list[SpecOperation] = []
    hosts: dict[tuple[str, str], None] = {}
    missing_host = False
    for raw_path, raw_item in paths.items():
        path = str(raw_path)
        item_where = pointer(["paths", path])
        if not path.startswith("/"):
            if path.startswith("x-"):
                continue
            raise SpecError(str(doc.path), f"path {path!r} must start with '/'", item_where)
        item, item_base = doc.resolve(raw_item, item_where)
        if not isinstance(item, Mapping):
            raise SpecError(str(doc.path), "a path item must be a map", item_where)
        shared = _parameters(doc, item.get("parameters"), f"{item_where}/parameters", item_base)
        item_targets = root_targets
        if not swagger and item.get("servers"):
            item_targets = _server_targets(doc, item["servers"], f"{item_where}/servers")
        for method in METHODS:
            if method not in item:
                continue
            op_where = f"{item_where}/{method}"
            op = item[method]
            if not isinstance(op, Mapping):
                raise SpecError(str(doc.path), "an operation must be a map", op_where)
            params = dict(shared)
            params.update(
                _parameters(doc, op.get("parameters"), f"{op_where}/parameters", item_base)
            )
            declared = {name for (name, loc) in params if loc == "path"}
            for name in _PARAM.findall(path):
                if name not in declared:
                    raise SpecError(
                        str(doc.path),
                        f"path parameter {name!r} of {path} is not declared",
                        op_where,
                    )
            security = (
                _security(doc, op["security"], f"{op_where}/security")
                if "security" in op
                else root_security
            )
            targets = item_targets
            if not swagger and op.get("servers"):
                targets = _server_targets(doc, op["servers"], f"{op_where}/servers")
            for target_host, base_path in targets:
                final_host = override or target_host
                if final_host is None:
                    missing_host = True
                    continue
                hosts[(final_host, base_path)] = None
                operations.append(
                    SpecOperation(
                        host=final_host,
                        method=method.upper(),
                        template=join_template(base_path, path),
                        operation_id=str(op["operationId"]) if op.get("operationId") else None,
                        deprecated=bool(op.get("deprecated", False)),
                        security=security,
                        parameters=list(params.values()),
                    )
                )
    if missing_host and not operations:
        where = "/host" if swagger else "/servers"
        if where[1:] not in root:  # point at a field that exists
            where = "/"
        raise SpecError(
            str(doc.path),
            "the spec names no host (no absolute server url / no 'host'); pass --host HOST",
            where,
        )
    unique: dict[tuple[str, str, str], SpecOperation] = {}
    for operation in operations:
        unique.setdefault((operation.host, operation.method, operation.template), operation)
    return LoadedSpec(
        title=str(info.get("title") or doc.path.name),
        version=str(info["version"]) if info.get("version") is not None else None,
        openapi_version=doc.version,
        hosts=[{"host": h, "base_path": b} for (h, b) in hosts],
        operations=list(unique.values()),
        security_schemes=_security_schemes(doc),
        sha256=doc.sha256,
    )
