"""Reads of supervision review: a reviewer sees only the policies they review and their items."""

from django.db.models import Count, Q, QuerySet

from directory.exceptions import InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person
from supervision.models import ItemStatus, ReviewItem, SupervisionPolicy

MAX_PAGE = 200


def policy_list_reviewed_by(*, reviewer: Person) -> list[SupervisionPolicy]:
    """Return the policies the person reviews, with their open and claimed item counts."""
    return list(
        SupervisionPolicy.objects.filter(reviewers=reviewer)
        .annotate(
            open_count=Count("items", filter=Q(items__status=ItemStatus.OPEN)),
            claimed_count=Count("items", filter=Q(items__status=ItemStatus.CLAIMED)),
        )
        .prefetch_related("people", "departments", "groups", "reviewers")
        .order_by("name")
    )


def policy_get_reviewed_by(*, reviewer: Person, policy_id: int) -> SupervisionPolicy:
    """Return one policy the person reviews; NotFound for any other (or none)."""
    policy = (
        SupervisionPolicy.objects.filter(pk=policy_id, reviewers=reviewer)
        .prefetch_related("people", "departments", "groups", "reviewers")
        .first()
    )
    if policy is None:
        raise NotFound(
            _("No supervision policy %(id)s among those you review.") % {"id": policy_id},
            code="policy_not_found",
        )
    return policy


def item_list_reviewed_by(
    *,
    reviewer: Person,
    policy_id: int | None = None,
    status: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[ReviewItem]:
    """Return the items of the policies the person reviews, newest first."""
    if status is not None and status not in ItemStatus.values:
        raise InvalidInput(
            _("status must be one of %(choices)s.") % {"choices": ", ".join(ItemStatus.values)}
        )
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(_("limit must be between 1 and %(max)d.") % {"max": MAX_PAGE})
    items: QuerySet[ReviewItem] = ReviewItem.objects.filter(
        policy__in=SupervisionPolicy.objects.filter(reviewers=reviewer)
    )
    if policy_id is not None:
        policy_get_reviewed_by(reviewer=reviewer, policy_id=policy_id)
        items = items.filter(policy_id=policy_id)
    if status is not None:
        items = items.filter(status=status)
    if before is not None:
        items = items.filter(pk__lt=before)
    return list(items.select_related("policy", "sender", "reviewer").order_by("-pk")[:limit])
