"""OneDev's ``ProjectData`` as its REST layer (Jersey + Jackson + Bean Validation) treats it.

* Input: unknown properties are a 400, ``path``/``createDate``/``id`` are ignored, empty or
  blank strings become null, scalars are coerced like Jackson does, a JSON null for a
  primitive boolean becomes ``false``, and ``name`` / ``gitPackConfig`` /
  ``codeAnalysisSetting`` are validated (``@NotEmpty`` / ``@NotNull``) as a 400.
* Output: Jackson's default pretty printer (``"key" : value``), dates like
  ``2025-01-02T03:04:05.678+00:00``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from epicstar.sandbox.onedev_protection import Protection

PROJECT_DATA_CLASS = "io.onedev.server.rest.resource.ProjectResource$ProjectData"
BASE_AUTHORIZATION_CLASS = "io.onedev.server.model.BaseAuthorization"
GIT_PACK_CONFIG_CLASS = "io.onedev.server.model.support.code.GitPackConfig"
CODE_ANALYSIS_CLASS = "io.onedev.server.model.support.CodeAnalysisSetting"
GIT_PACK_FIELDS = ("windowMemory", "packSizeLimit", "threads", "window")
CODE_ANALYSIS_FIELDS = ("analysisFiles",)
MAX_DESCRIPTION_LEN = 15000

_LONG = "java.lang.Long"
_STRING = "java.lang.String"
_BOOLEAN = "boolean"


class RestError(Exception):
    """An error response of the OneDev REST layer (text/plain body)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Project:
    """A OneDev project (the subset of the entity the stand-in needs)."""

    id: int
    name: str
    parent_id: int | None
    create_date: float
    path: str = ""
    forked_from_id: int | None = None
    key: str | None = None
    description: str | None = None
    code_management: bool = True
    pack_management: bool = True
    issue_management: bool = True
    time_tracking: bool = False
    service_desk_email_address: str | None = None
    git_pack_config: dict[str, str | None] = field(default_factory=dict)
    code_analysis_setting: dict[str, str | None] = field(default_factory=dict)
    owner: str | None = None
    last_activity: float = 0.0
    protections: list[Protection] = field(default_factory=list)  # branches' and tags', in order


@dataclass
class BaseAuthorization:
    """A project's default role (``BaseAuthorization`` {project, role}): the role applies to
    every logged-in user, on the project and (via the parent walk) on every descendant."""

    id: int
    project_id: int
    role_id: int


@dataclass
class LfsLock:
    """A Git LFS file lock (``GitLfsLock``): one per {project, path}."""

    id: int
    project_id: int
    path: str
    owner: str  # the locking user's login (its display name in OneDev's answers)
    locked_at: float


@dataclass
class BaseAuthorizationInput:
    """A deserialised ``BaseAuthorization`` request body (foreign keys as ``<name>Id``)."""

    project_id: int | None = None
    role_id: int | None = None


@dataclass
class ProjectInput:
    """A deserialised (not yet validated) ProjectData request body."""

    parent_id: int | None = None
    forked_from_id: int | None = None
    name: str | None = None
    key: str | None = None
    description: str | None = None
    code_management: bool = True
    pack_management: bool = True
    issue_management: bool = True
    time_tracking: bool = False
    service_desk_email_address: str | None = None
    git_pack_config: dict[str, str | None] | None = None
    code_analysis_setting: dict[str, str | None] | None = None


# ---------------------------------------------------------------------------- Jackson-like input


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean value"
    if isinstance(value, (int, float)):
        return "Number value"
    if isinstance(value, str):
        return "String value"
    if isinstance(value, list):
        return "Array value (token `JsonToken.START_ARRAY`)"
    return "Object value (token `JsonToken.START_OBJECT`)"


def _cannot(java_type: str, value: Any) -> RestError:
    return RestError(400, f"Cannot deserialize value of type `{java_type}` from {_kind(value)}")


def to_long(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _cannot(_LONG, value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise RestError(
                400,
                f'Cannot deserialize value of type `{_LONG}` from String "{value}":'
                f" not a valid `{_LONG}` value",
            ) from None
    raise _cannot(_LONG, value)


def to_string(value: Any) -> str | None:
    """Scalars are coerced to text; empty or whitespace-only strings become null."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = str(value)
    elif not isinstance(value, str):
        raise _cannot(_STRING, value)
    return value if value.strip() else None


def to_boolean(value: Any) -> bool:
    """A primitive ``boolean``: JSON null gives false, "true"/"false" and 0/1 are coerced."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _cannot(_BOOLEAN, value)


def _config(value: Any, java_class: str, names: tuple[str, ...]) -> dict[str, str | None] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _cannot(java_class, value)
    out: dict[str, str | None] = dict.fromkeys(names)
    for key, item in value.items():
        if key not in names:
            raise unrecognized(key, java_class)
        out[key] = to_string(item)
    return out


def unrecognized(name: str, java_class: str) -> RestError:
    return RestError(
        400, f'Unrecognized field "{name}" (class {java_class}), not marked as ignorable'
    )


def parse_json_body(raw: bytes) -> Any:
    """Parse a JSON request body the way Jackson would complain about it (400)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RestError(400, "Invalid UTF-8 middle byte") from None
    except json.JSONDecodeError as exc:
        raise RestError(
            400, f"Unexpected character: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None


_IGNORED = frozenset({"id", "path", "createDate"})
_LONG_FIELDS = {"parentId": "parent_id", "forkedFromId": "forked_from_id"}
_STRING_FIELDS = {
    "name": "name",
    "key": "key",
    "description": "description",
    "serviceDeskEmailAddress": "service_desk_email_address",
}
_BOOLEAN_FIELDS = {
    "codeManagement": "code_management",
    "packManagement": "pack_management",
    "issueManagement": "issue_management",
    "timeTracking": "time_tracking",
}
_CONFIG_FIELDS = {
    "gitPackConfig": ("git_pack_config", GIT_PACK_CONFIG_CLASS, GIT_PACK_FIELDS),
    "codeAnalysisSetting": ("code_analysis_setting", CODE_ANALYSIS_CLASS, CODE_ANALYSIS_FIELDS),
}


def _object_body(raw: bytes, arg_path: str, java_class: str) -> dict[str, Any]:
    """The JSON object of a ``@NotNull`` body parameter, or the 400 Jersey would give."""
    data = parse_json_body(raw) if raw.strip() else None
    if data is None:
        raise RestError(400, f"{arg_path}: must not be null")
    if not isinstance(data, dict):
        raise _cannot(java_class, data)
    return data


def parse_project_data(raw: bytes, arg_path: str) -> ProjectInput:
    """Deserialise and validate a ProjectData body; ``arg_path`` is e.g. ``createProject.arg0``.

    Raises :class:`RestError` (400) like Jersey would.
    """
    data = _object_body(raw, arg_path, PROJECT_DATA_CLASS)
    result = ProjectInput()
    for key, value in data.items():
        if key in _IGNORED:
            continue  # READ_ONLY or not used by populate()
        if key in _LONG_FIELDS:
            setattr(result, _LONG_FIELDS[key], to_long(value))
        elif key in _STRING_FIELDS:
            setattr(result, _STRING_FIELDS[key], to_string(value))
        elif key in _BOOLEAN_FIELDS:
            setattr(result, _BOOLEAN_FIELDS[key], to_boolean(value))
        elif key in _CONFIG_FIELDS:
            attr, java_class, names = _CONFIG_FIELDS[key]
            setattr(result, attr, _config(value, java_class, names))
        else:
            raise unrecognized(key, PROJECT_DATA_CLASS)
    check_constraints(result, arg_path)
    return result


_JSON_TOKENS: dict[type, str] = {list: "START_ARRAY", dict: "START_OBJECT"}


def to_foreign_key(value: Any) -> int | None:
    """``ForeignKeyDeserializer``: JSON null is null, a number is the id
    (``JsonParser.getLongValue``), anything else a 400 from the parser."""
    if value is None:
        return None
    if isinstance(value, bool):
        token = "VALUE_TRUE" if value else "VALUE_FALSE"
    elif isinstance(value, int):
        return value
    elif isinstance(value, float):
        return int(value)
    else:
        token = _JSON_TOKENS.get(type(value), "VALUE_STRING")
    raise RestError(
        400, f"Current token ({token}) not numeric, can not use numeric value accessors"
    )


_BASE_AUTHORIZATION_FIELDS = {"projectId": "project_id", "roleId": "role_id"}


def parse_base_authorization(raw: bytes, arg_path: str) -> BaseAuthorizationInput:
    """Deserialise a ``BaseAuthorization`` body (``@NotNull`` entity; ``id`` is ignored:
    a create always makes a new row).  Raises :class:`RestError` (400) like Jersey would."""
    data = _object_body(raw, arg_path, BASE_AUTHORIZATION_CLASS)
    result = BaseAuthorizationInput()
    for key, value in data.items():
        if key == "id":
            continue
        if key not in _BASE_AUTHORIZATION_FIELDS:
            raise unrecognized(key, BASE_AUTHORIZATION_CLASS)
        setattr(result, _BASE_AUTHORIZATION_FIELDS[key], to_foreign_key(value))
    return result


def check_constraints(result: ProjectInput, arg_path: str) -> None:
    """``@NotEmpty name``, ``@NotNull gitPackConfig`` / ``codeAnalysisSetting`` (400)."""
    violations = []
    if result.name is None:
        violations.append(f"{arg_path}.name: must not be empty")
    if result.git_pack_config is None:
        violations.append(f"{arg_path}.gitPackConfig: must not be null")
    if result.code_analysis_setting is None:
        violations.append(f"{arg_path}.codeAnalysisSetting: must not be null")
    if violations:
        raise RestError(400, ", ".join(violations))


def abbreviate(text: str | None, max_len: int = MAX_DESCRIPTION_LEN) -> str | None:
    """Apache commons ``StringUtils.abbreviate``: longer text keeps max_len-3 chars + '...'."""
    if text is None or len(text) <= max_len:
        return text
    return text[: max_len - 3] + "..."


# ---------------------------------------------------------------------------- output


def onedev_date(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"


def project_data(project: Project) -> dict[str, Any]:
    """ProjectData.from(project), in OneDev's field order."""
    return {
        "id": project.id,
        "parentId": project.parent_id,
        "forkedFromId": project.forked_from_id,
        "name": project.name,
        "key": project.key,
        "path": project.path,
        "description": project.description,
        "createDate": onedev_date(project.create_date),
        "codeManagement": project.code_management,
        "packManagement": project.pack_management,
        "issueManagement": project.issue_management,
        "timeTracking": project.time_tracking,
        "serviceDeskEmailAddress": project.service_desk_email_address,
        "gitPackConfig": {k: project.git_pack_config.get(k) for k in GIT_PACK_FIELDS},
        "codeAnalysisSetting": {
            k: project.code_analysis_setting.get(k) for k in CODE_ANALYSIS_FIELDS
        },
    }


def base_authorization_data(authorization: BaseAuthorization) -> dict[str, Any]:
    """The entity as OneDev's ObjectMapper writes it (``@ManyToOne`` as ``<name>Id``)."""
    return {
        "id": authorization.id,
        "projectId": authorization.project_id,
        "roleId": authorization.role_id,
    }


def jackson_dumps(value: Any, level: int = 0) -> str:
    """Jackson's DefaultPrettyPrinter: objects one field per line (``"k" : v``), arrays inline."""
    if isinstance(value, dict):
        if not value:
            return "{ }"
        pad = "  " * (level + 1)
        fields = [
            f"{pad}{json.dumps(str(k), ensure_ascii=False)} : {jackson_dumps(v, level + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(fields) + "\n" + "  " * level + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(jackson_dumps(v, level) for v in value) + " ]"
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------------------- Java collections


def _java_string_hash(text: str) -> int:
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h


def java_hash_set_order(items: Iterable[str]) -> list[str]:
    """Iteration order of a small ``java.util.HashSet<String>`` (default capacity), so lists in
    messages such as ``Missing query params: [offset, count]`` read exactly like OneDev's."""
    unique = list(dict.fromkeys(items))
    capacity = 16
    while len(unique) > capacity * 3 // 4:
        capacity *= 2

    def bucket(text: str) -> int:
        h = _java_string_hash(text)
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(unique, key=bucket)  # stable: insertion order within a bucket


def java_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"
