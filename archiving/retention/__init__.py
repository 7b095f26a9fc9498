"""Retention: purge archive records past their policy's age, unless a legal hold covers them.

Design.
- Policies: one global, one per person, one per conversation (rooms are conversations), each a
  number of days; inactive policies do not count. A record's retention is the LONGEST of the
  global policy, its conversation's policy and the policies of everyone who took part in its
  conversation (ArchiveParticipant) or acted in it. No applicable policy: kept forever.
  Retention is thus the same for every record of a conversation, and a person's policy can
  only lengthen what the others' policies keep (Purview's "longest retention wins").
- A hold always wins: each batch takes the retention lock (archiving.holds.retention_lock),
  reads the active holds and deletes only expired records no hold covers, all in one
  transaction, so a hold placed at any moment is honoured by every batch that commits after it.
- The purge is the one sanctioned deletion of captured records, and it leaves a trace that
  keeps the chains verifiable: per purged run of consecutive links a ChainGap (conversation,
  from_index, to_index, the prev_hash the first purged record carried and the hash of the last
  one), per batch a RetentionPurge with its counts and the SHA-256 digest of its gaps, written
  in the same transaction as a RETENTION_RUN audit entry carrying that digest. archive_verify
  steps over exactly the recorded gaps (checking that they join the hashes around them) and
  checks every batch's gaps against the digest in the hash-chained audit trail. A record
  deleted any other way is still a missing link.
- A dry run computes exactly what a run at the same moment would purge (same code, no writes
  but its audit entry); a policy change records its dry-run numbers in its audit entry.
"""

from archiving.retention.plan import RetentionPreview
from archiving.retention.policies import (
    policy_to_dict,
    policy_validate,
    retention_dry_run,
    retention_policy_delete,
    retention_policy_save,
)
from archiving.retention.run import RetentionRunResult, gaps_digest, retention_run

__all__ = [
    "RetentionPreview",
    "RetentionRunResult",
    "gaps_digest",
    "policy_to_dict",
    "policy_validate",
    "retention_dry_run",
    "retention_policy_delete",
    "retention_policy_save",
    "retention_run",
]
