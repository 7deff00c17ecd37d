"""API keys: their format (``keys``), scopes (``scopes``), storage (``store``) and verification
(``verifier``), used by the API and the CLI.

Import from those modules: the scopes alone are wanted where the database is not (the settings).
"""
