"""The agent: discovers the stars and fetches the repositories where the GitHub token lives,
and delivers git data and commit metadata to an epicstar server with a key of scope ``agent``.
"""

from epicstar.agent.config import AgentSettings, default_config_path, load_agent_settings
from epicstar.agent.delivery import Delivery, Outcome
from epicstar.agent.run import RunReport, run_agent_sync
from epicstar.agent.server import AgentServer, KeyRefused, ServerError, ServerUnavailable

__all__ = [
    "AgentServer",
    "AgentSettings",
    "Delivery",
    "KeyRefused",
    "Outcome",
    "RunReport",
    "ServerError",
    "ServerUnavailable",
    "default_config_path",
    "load_agent_settings",
    "run_agent_sync",
]
