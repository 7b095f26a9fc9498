"""Archive search: one query language, several backends (database full-text, Elasticsearch)."""
