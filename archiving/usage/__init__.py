"""Usage reports: one record per conversation-day, without content (Lync's detail records).

Design:
- Rows are derived after the fact from the archive records (message.posted, file.uploaded),
  never on the write path: `usage_refresh` recomputes every conversation-day touched by the
  records captured since its cursor. A recompute reads all records of that conversation-day,
  so running it twice, or over records already counted, gives the same rows (idempotent).
- The cursor only moves past records recorded more than SETTLE ago; newer ones are looked at
  again on the next run, so a capture committed a little out of id order is still counted.
- Once a day has settled its rows are final: archive retention purging that day's records
  later does not change them. Rows have their own retention (PARLEY_USAGE_RETENTION_DAYS).
- A person's department is the one they had when the row was computed.
"""
