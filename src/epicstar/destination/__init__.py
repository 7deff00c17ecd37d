"""Destination: where mirrors are kept (OneDev), and how GitHub names map onto it."""

from epicstar.destination.errors import (
    OneDevAuthError,
    OneDevError,
    OneDevNotAnApi,
    OneDevNotFound,
    OneDevUnavailable,
    ProjectNameTaken,
)
from epicstar.destination.naming import (
    MAX_NAME_LENGTH,
    RESERVED_NAMES,
    RESERVED_PATHS,
    ancestors,
    is_valid_name,
    is_valid_path,
    mirror_path,
    onedev_name,
    suffixed,
)
from epicstar.destination.onedev import (
    API_PREFIX,
    MAX_DESCRIPTION_LENGTH,
    READ_ONLY_FIELDS,
    OneDevClient,
    answered_html,
)

__all__ = [
    "API_PREFIX",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_NAME_LENGTH",
    "READ_ONLY_FIELDS",
    "RESERVED_NAMES",
    "RESERVED_PATHS",
    "OneDevAuthError",
    "OneDevClient",
    "OneDevError",
    "OneDevNotAnApi",
    "OneDevNotFound",
    "OneDevUnavailable",
    "ProjectNameTaken",
    "ancestors",
    "answered_html",
    "is_valid_name",
    "is_valid_path",
    "mirror_path",
    "onedev_name",
    "suffixed",
]
