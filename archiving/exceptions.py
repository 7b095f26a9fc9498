from directory.exceptions import Unavailable


class ArchiveUnavailable(Unavailable):
    """Archiving is required (critical policy) and the record could not be written."""

    code = "archive_unavailable"
