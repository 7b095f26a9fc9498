"""Search indexing of archive records (replaced at merge by the archive-search branch)."""


def search_index_forget(*, record_ids: list[int]) -> None:
    """Remove purged archive records from the search index.

    Retention calls this after a purge has committed, with the ids it deleted.
    """
    # replaced at merge by the archive-search branch
    return
