"""The agent: discovers the stars and fetches the repositories where the GitHub token lives,
and delivers git data and commit metadata to an epicstar server with a key of scope ``agent``.
"""
