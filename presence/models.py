"""Presence arrives with its own issue (states, endpoints, privacy relationships)."""
