"""Conflict management over GraphQL: the board's conflicts, their log, and its commands."""
