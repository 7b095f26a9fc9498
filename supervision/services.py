"""Supervision review: policies, the evaluation of captured messages, and the review actions.

Design. Evaluation never runs on the write path. Capture queues one Celery task per batch of
records after its commit (archiving.services.capture_follow_ups_queue); the task evaluates
each message record once per policy that supervises its sender. Exactly once comes from the
database, not from the queue: SupervisionEvaluation and ReviewItem are unique on (policy,
record) and written with ON CONFLICT DO NOTHING in one transaction, and the judgement is a pure
function of the record and the policy (the lexicon matched against the captured text; a sample
drawn from SHA-256 of the policy's seed and the record id). So a task redelivered after its
worker died, a duplicate task and the backstop sweep all write nothing new or the very same
rows. A policy judges records captured from its creation, within its start and end dates.

Review actions (claim, resolve, reassign, viewing an item in its conversation) are allowed to
the policy's reviewers only and append their entry to the compliance audit trail in the same
transaction. An escalation may open a case with a legal hold on the sender and the
conversation, through archiving's case and hold services (which audit themselves).
"""

import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from archiving.audit import audit_append
from archiving.holds import case_create, hold_place, people_by_username, text_field
from archiving.models import ArchiveEvent, ArchiveRecord, AuditAction
from archiving.search.query import InvalidQuery, Node, Or, query_matches, query_parse
from archiving.search.types import highlight
from directory.exceptions import Conflict, InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Department, Person
from directory.moments import range_parse
from supervision.access import SUPERVISION_GROUP
from supervision.models import (
    Decision,
    ItemStatus,
    Outcome,
    ReviewItem,
    Scope,
    SupervisionCursor,
    SupervisionEvaluation,
    SupervisionPolicy,
)

MESSAGE_EVENTS = (ArchiveEvent.MESSAGE_POSTED, ArchiveEvent.MESSAGE_EDITED)
MAX_NAME = 200
MAX_LEXICON = 200
MAX_COMMENT = 4000
_MARKED = re.compile(r"<mark>(.*?)</mark>", re.S)


# -- input ------------------------------------------------------------------------------------


def _names(values, *, field: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidInput(_("%(field)s must be a list of names.") % {"field": field})
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def lexicon_parse(entries) -> list[Node]:
    """Return the query tree of every lexicon entry; a bad entry is refused naming it."""
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise InvalidInput(
            _('lexicon must be a list of entries such as "merger" or "\\"inside info\\"".')
        )
    if len(entries) > MAX_LEXICON:
        raise InvalidInput(_("lexicon holds at most %(limit)d entries.") % {"limit": MAX_LEXICON})
    nodes = []
    for index, entry in enumerate(entries):
        try:
            node = query_parse(entry)
        except InvalidQuery as error:
            raise InvalidInput(
                _("lexicon[%(index)d] (%(entry)s): %(error)s")
                % {"index": index, "entry": entry[:60], "error": error.detail},
                code="invalid_query",
            ) from error
        if node is None:
            raise InvalidInput(_("lexicon[%(index)d] is empty.") % {"index": index})
        nodes.append(node)
    return nodes


def _sample_percent(value) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(_("sample_percent must be a number from 0 to 100."))
    try:
        number = Decimal(str(value))
    except InvalidOperation as error:
        raise InvalidInput(_("sample_percent must be a number from 0 to 100.")) from error
    if not number.is_finite() or not 0 <= number <= 100:
        raise InvalidInput(_("sample_percent must be a number from 0 to 100."))
    return number.quantize(Decimal("0.01"))  # what the column keeps


def _reviewers(usernames) -> list[Person]:
    people = people_by_username(_names(usernames, field="reviewers"), field="reviewers")
    if not people:
        raise InvalidInput(_("reviewers must name at least one member of the Supervision group."))
    members = set(
        Person.objects.filter(
            pk__in=[p.pk for p in people], is_active=True, groups__name=SUPERVISION_GROUP
        ).values_list("pk", flat=True)
    )
    outsiders = [p.username for p in people if p.pk not in members]
    if outsiders:
        raise InvalidInput(
            _("reviewers: %(names)s not in the Supervision group; add them to it first.")
            % {"names": ", ".join(outsiders)},
            code="not_supervisor",
        )
    return people


def _by_name(model, names: list[str], *, field: str) -> list:
    found = {o.name: o for o in model.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise InvalidInput(
            _("%(field)s: nothing named %(names)s.") % {"field": field, "names": ", ".join(missing)}
        )
    return [found[n] for n in names]


# -- policies ---------------------------------------------------------------------------------


@transaction.atomic
def policy_create(
    *,
    actor: Person,
    name,
    people=None,
    departments=None,
    groups=None,
    reviewers=None,
    lexicon=None,
    sample_percent=0,
    scope=Scope.BOTH,
    start=None,
    end=None,
) -> SupervisionPolicy:
    """Store a supervision policy; it judges the messages captured from now on."""
    name = text_field(name, field="name", required=True, limit=MAX_NAME)
    supervised = people_by_username(_names(people, field="people"), field="people")
    department_list = _by_name(
        Department, _names(departments, field="departments"), field="departments"
    )
    group_list = _by_name(Group, _names(groups, field="groups"), field="groups")
    if not (supervised or department_list or group_list):
        raise InvalidInput(
            _("A policy must supervise someone: give people, departments or groups.")
        )
    reviewer_list = _reviewers(reviewers)
    lexicon_parse(lexicon)
    entries = [e.strip() for e in lexicon or []]
    percent = _sample_percent(sample_percent)
    if scope not in Scope.values:
        raise InvalidInput(
            _("scope must be one of %(choices)s.") % {"choices": ", ".join(Scope.values)}
        )
    start_at, end_at = range_parse(start, end)
    if not entries and percent == 0:
        raise InvalidInput(
            _("A policy with no lexicon and sample_percent 0 would never flag anything.")
        )
    if SupervisionPolicy.objects.filter(name=name).exists():
        raise Conflict(
            _("A supervision policy named %(name)s exists; choose another name.") % {"name": name},
            code="policy_exists",
        )
    policy = SupervisionPolicy.objects.create(
        name=name,
        lexicon=entries,
        sample_percent=percent,
        scope=scope,
        start_at=start_at,
        end_at=end_at,
        seed=secrets.token_hex(16),
        created_by=actor,
    )
    policy.people.set(supervised)
    policy.departments.set(department_list)
    policy.groups.set(group_list)
    policy.reviewers.set(reviewer_list)
    audit_append(
        actor=actor,
        action=AuditAction.SUPERVISION_POLICY_CREATE,
        target=f"supervision policy {policy.pk}",
        parameters=policy_parameters(policy),
    )
    return policy


def policy_parameters(policy: SupervisionPolicy) -> dict:
    """Return what a policy says, as it is shown and audited."""
    return {
        "name": policy.name,
        "people": sorted(p.username for p in policy.people.all()),
        "departments": sorted(d.name for d in policy.departments.all()),
        "groups": sorted(g.name for g in policy.groups.all()),
        "reviewers": sorted(p.username for p in policy.reviewers.all()),
        "lexicon": list(policy.lexicon),
        "sample_percent": float(policy.sample_percent),
        "scope": policy.scope,
        "start": policy.start_at.isoformat() if policy.start_at else None,
        "end": policy.end_at.isoformat() if policy.end_at else None,
    }


# -- evaluation -------------------------------------------------------------------------------


def sample_draws(*, seed: str, record_id: int, percent: Decimal) -> bool:
    """Return whether a record falls in a policy's sample: the same answer every time."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < int(percent * 100)


@dataclass(frozen=True)
class Judgement:
    outcome: str
    matched: tuple[str, ...] = ()
    highlight: str = ""


def record_judge(*, lexicon: list[Node], seed: str, percent: Decimal, record_id: int, body: str):
    """Return what a policy makes of a message: a lexicon hit (with the words it marks), a
    sample draw, or nothing."""
    if lexicon and query_matches(Or(tuple(lexicon)) if len(lexicon) > 1 else lexicon[0], body):
        hits = [node for node in lexicon if query_matches(node, body)]
        marked = highlight(body=body, node=Or(tuple(hits)) if len(hits) > 1 else hits[0])
        words = dict.fromkeys(html.unescape(m) for m in _MARKED.findall(marked))
        return Judgement(Outcome.LEXICON, tuple(words), marked)
    if sample_draws(seed=seed, record_id=record_id, percent=percent):
        return Judgement(Outcome.SAMPLE, (), highlight(body=body, node=None))
    return Judgement(Outcome.NONE)


@dataclass(frozen=True)
class EvaluationCount:
    evaluated: int = 0
    items: int = 0


def _applies(policy: SupervisionPolicy, record: ArchiveRecord) -> bool:
    if policy.scope == Scope.INTERNAL and record.is_external:
        return False
    if policy.scope == Scope.EXTERNAL and not record.is_external:
        return False
    if record.recorded_at < policy.created_at:
        return False
    if policy.start_at and record.occurred_at < policy.start_at:
        return False
    return not (policy.end_at and record.occurred_at >= policy.end_at)


def _supervised_ids(policy: SupervisionPolicy, actor_ids: set[int]) -> set[int]:
    """Return which of these people the policy supervises (people, departments, groups)."""
    return set(
        Person.objects.filter(pk__in=actor_ids)
        .filter(
            Q(supervision_policies=policy)
            | Q(department__in=policy.departments.values("pk"))
            | Q(groups__in=policy.groups.values("pk"))
        )
        .values_list("pk", flat=True)
        .distinct()
    )


def records_evaluate(*, record_ids: list[int]) -> EvaluationCount:
    """Judge captured message records under every active policy supervising their senders.

    Idempotent: what was judged before is not judged again, and a judgement is always the same.
    """
    policies = list(SupervisionPolicy.objects.filter(is_active=True))
    if not policies or not record_ids:
        return EvaluationCount()
    records = list(
        ArchiveRecord.objects.filter(
            pk__in=record_ids, event__in=MESSAGE_EVENTS, actor_id__isnull=False
        ).only(
            "pk",
            "conversation_id",
            "is_external",
            "message_id",
            "actor_id",
            "body",
            "occurred_at",
            "recorded_at",
        )
    )
    if not records:
        return EvaluationCount()
    actor_ids = {r.actor_id for r in records}
    now = timezone.now()
    evaluations: list[SupervisionEvaluation] = []
    items: list[ReviewItem] = []
    for policy in policies:
        in_scope = [r for r in records if _applies(policy, r)]
        if not in_scope:
            continue
        supervised = _supervised_ids(policy, {r.actor_id for r in in_scope} & actor_ids)
        lexicon = lexicon_parse(policy.lexicon)
        for record in in_scope:
            if record.actor_id not in supervised:
                continue
            judgement = record_judge(
                lexicon=lexicon,
                seed=policy.seed,
                percent=policy.sample_percent,
                record_id=record.pk,
                body=record.body,
            )
            evaluations.append(
                SupervisionEvaluation(
                    policy=policy, record_id=record.pk, outcome=judgement.outcome, evaluated_at=now
                )
            )
            if judgement.outcome != Outcome.NONE:
                items.append(
                    ReviewItem(
                        policy=policy,
                        record_id=record.pk,
                        conversation_id=record.conversation_id,
                        message_id=record.message_id,
                        sender_id=record.actor_id,
                        reason=judgement.outcome,
                        matched=list(judgement.matched),
                        highlight=judgement.highlight,
                        occurred_at=record.occurred_at,
                        created_at=now,
                    )
                )
    with transaction.atomic():
        # ON CONFLICT DO NOTHING: a replay (redelivered task, sweep) writes nothing new.
        SupervisionEvaluation.objects.bulk_create(evaluations, ignore_conflicts=True)
        ReviewItem.objects.bulk_create(items, ignore_conflicts=True)
    return EvaluationCount(evaluated=len(evaluations), items=len(items))


def records_sweep(*, chunk: int = 2000, max_chunks: int = 50) -> EvaluationCount:
    """Judge message records the capture tasks may have missed (a task lost before it was
    queued); advance a cursor over records settled long enough to have committed."""
    settled = timezone.now() - timedelta(seconds=settings.PARLEY_SUPERVISION_SETTLE_SECONDS)
    total = EvaluationCount()
    for _chunk in range(max_chunks):
        with transaction.atomic():
            cursor, _created = SupervisionCursor.objects.select_for_update().get_or_create(pk=1)
            ids = list(
                ArchiveRecord.objects.filter(pk__gt=cursor.last_record_id, recorded_at__lt=settled)
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk]
            )
            if not ids:
                cursor.swept_at = timezone.now()
                cursor.save(update_fields=["swept_at"])
                break
            done = records_evaluate(record_ids=ids)
            total = EvaluationCount(total.evaluated + done.evaluated, total.items + done.items)
            cursor.last_record_id = ids[-1]
            cursor.swept_at = timezone.now()
            cursor.save(update_fields=["last_record_id", "swept_at"])
        if len(ids) < chunk:
            break
    return total


# -- the review queue -------------------------------------------------------------------------


def _item_get(*, reviewer: Person, item_id: int, for_update: bool = True) -> ReviewItem:
    items = ReviewItem.objects.select_for_update(of=("self",)) if for_update else ReviewItem.objects
    item = (
        items.select_related("policy", "reviewer", "sender")
        .filter(pk=item_id, policy__reviewers=reviewer)
        .first()
    )
    if item is None:
        raise NotFound(
            _("No review item %(id)s among the policies you review.") % {"id": item_id},
            code="item_not_found",
        )
    return item


def _audit(actor: Person, action: str, item: ReviewItem, **parameters) -> None:
    audit_append(
        actor=actor,
        action=action,
        target=f"supervision item {item.pk}",
        parameters={
            "policy": item.policy_id,
            "record": item.record_id,
            "conversation": item.conversation_id,
            **parameters,
        },
    )


@transaction.atomic
def item_claim(*, actor: Person, item_id: int) -> ReviewItem:
    """Take an open item for review (claiming one's own claimed item again changes nothing)."""
    item = _item_get(reviewer=actor, item_id=item_id)
    if item.status == ItemStatus.RESOLVED:
        raise Conflict(_("Item %(id)s is already resolved.") % {"id": item.pk}, code="resolved")
    if item.status == ItemStatus.CLAIMED and item.reviewer_id != actor.pk:
        raise Conflict(
            _("Item %(id)s is claimed by %(name)s; ask them to reassign it.")
            % {"id": item.pk, "name": item.reviewer.username},
            code="claimed_by_other",
        )
    if item.status == ItemStatus.CLAIMED:
        return item
    item.status = ItemStatus.CLAIMED
    item.reviewer = actor
    item.save(update_fields=["status", "reviewer"])
    _audit(actor, AuditAction.SUPERVISION_ITEM_CLAIM, item)
    return item


@transaction.atomic
def item_resolve(
    *, actor: Person, item_id: int, decision, comment="", open_case: bool = False, case_name=""
) -> ReviewItem:
    """Record a reviewer's decision on an item; an escalation may open a case with a hold."""
    if decision not in Decision.values:
        raise InvalidInput(
            _("decision must be one of %(choices)s.") % {"choices": ", ".join(Decision.values)}
        )
    comment = text_field(comment, field="comment", limit=MAX_COMMENT)
    if decision != Decision.COMPLIANT and not comment:
        raise InvalidInput(_("A comment is required for an escalation or a violation."))
    if not isinstance(open_case, bool):
        raise InvalidInput(_("open_case must be true or false."))
    if open_case and decision != Decision.ESCALATED:
        raise InvalidInput(_("Only an escalation opens a case."))
    case_name = text_field(case_name, field="case_name", limit=MAX_NAME)
    item = _item_get(reviewer=actor, item_id=item_id)
    if item.status == ItemStatus.RESOLVED:
        raise Conflict(_("Item %(id)s is already resolved.") % {"id": item.pk}, code="resolved")
    if item.status == ItemStatus.CLAIMED and item.reviewer_id != actor.pk:
        raise Conflict(
            _("Item %(id)s is claimed by %(name)s; ask them to reassign it.")
            % {"id": item.pk, "name": item.reviewer.username},
            code="claimed_by_other",
        )
    if open_case:
        case = case_create(
            actor=actor,
            name=case_name
            or _("Supervision: %(policy)s, item %(id)s")
            % {"policy": item.policy.name, "id": item.pk},
            description=comment,
        )
        hold_place(
            actor=actor,
            case_id=case.pk,
            custodians=[item.sender.username],
            conversations=[item.conversation_id],
        )
        item.case_id = case.pk
    item.status = ItemStatus.RESOLVED
    item.reviewer = actor
    item.decision = decision
    item.comment = comment
    item.resolved_at = timezone.now()
    item.save(update_fields=["status", "reviewer", "decision", "comment", "resolved_at", "case_id"])
    _audit(
        actor,
        AuditAction.SUPERVISION_ITEM_RESOLVE,
        item,
        decision=decision,
        comment=comment,
        case=item.case_id,
    )
    return item


@transaction.atomic
def item_reassign(*, actor: Person, item_id: int, reviewer) -> ReviewItem:
    """Hand an unresolved item to another reviewer of its policy."""
    username = text_field(reviewer, field="reviewer", required=True, limit=150)
    item = _item_get(reviewer=actor, item_id=item_id)
    if item.status == ItemStatus.RESOLVED:
        raise Conflict(_("Item %(id)s is already resolved.") % {"id": item.pk}, code="resolved")
    target = (
        item.policy.reviewers.filter(
            username=username, is_active=True, groups__name=SUPERVISION_GROUP
        )
        .distinct()
        .first()
    )
    if target is None:
        raise InvalidInput(
            _("reviewer: %(name)s does not review the policy %(policy)s.")
            % {"name": username, "policy": item.policy.name},
            code="not_reviewer",
        )
    previous = item.reviewer.username if item.reviewer else None
    item.status = ItemStatus.CLAIMED
    item.reviewer = target
    item.save(update_fields=["status", "reviewer"])
    _audit(
        actor,
        AuditAction.SUPERVISION_ITEM_REASSIGN,
        item,
        previous=previous,
        reviewer=target.username,
    )
    return item


@transaction.atomic
def item_view(
    *, actor: Person, item_id: int, before: int, after: int
) -> tuple[ReviewItem, list[ArchiveRecord]]:
    """Return an item and the archived records around its message, in chain order; audit it."""
    for name, value in (("before", before), ("after", after)):
        if not 0 <= value <= 50:
            raise InvalidInput(_("%(name)s must be between 0 and 50.") % {"name": name})
    item = _item_get(reviewer=actor, item_id=item_id, for_update=False)
    record = ArchiveRecord.objects.filter(pk=item.record_id).first()
    records: list[ArchiveRecord] = []
    if record is not None:  # a record past retention leaves the item without its context
        chain = ArchiveRecord.objects.filter(conversation_id=record.conversation_id).exclude(
            event=ArchiveEvent.HISTORY_VIEWED
        )
        earlier = list(
            chain.filter(chain_index__lt=record.chain_index).order_by("-chain_index")[:before]
        )
        later = list(
            chain.filter(chain_index__gt=record.chain_index).order_by("chain_index")[:after]
        )
        records = [*reversed(earlier), record, *later]
    _audit(
        actor,
        AuditAction.SUPERVISION_ITEM_VIEW,
        item,
        before=before,
        after=after,
        records=[r.pk for r in records],
    )
    return item, records
