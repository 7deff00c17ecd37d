"""The feed of what is new across all mirrors: commits, tags and first mirrors, recorded by
mirror passes and by the ingestion API."""

from epicstar.feed.entries import commit_row, pass_rows
from epicstar.feed.ingestion import Ingestion, ingestion_of
from epicstar.feed.query import FeedEntry, FeedFilter, FeedPage, entry_view, page_of
from epicstar.feed.store import BODY_LIMIT, TITLE_LIMIT, FeedRow, Stored, store

__all__ = [
    "BODY_LIMIT",
    "TITLE_LIMIT",
    "FeedEntry",
    "FeedFilter",
    "FeedPage",
    "FeedRow",
    "Ingestion",
    "Stored",
    "commit_row",
    "entry_view",
    "ingestion_of",
    "page_of",
    "pass_rows",
    "store",
]
