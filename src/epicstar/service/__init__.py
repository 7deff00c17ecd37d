"""The long-running side: ``epicstar serve`` (web and workers) and ``epicstar worker``."""
