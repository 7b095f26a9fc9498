"""Clients for the systems presence reads from (integrations/<system>.py)."""
