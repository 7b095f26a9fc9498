"""Rooms: create, edit, join, leave, members and roles, invitations.

Every change locks the room's conversation row first (the archive chain is advanced under that
lock), checks the category's ethical wall for whoever is to be in the room, writes, captures an
archive event and broadcasts after commit. A refusal writes and sends nothing.
"""

from django.db import transaction
from django.utils import timezone

from archiving.models import ArchiveEvent
from chat import realtime
from chat.models import Category, Conversation, Invitation, Participant
from chat.selectors import (
    active_participants,
    category_can_create,
    category_is_walled,
    category_walled_person_ids,
    participation_active,
    room_get_visible,
)
from chat.services.messages import (
    _capture,
    _conversation_start,
    _participant_join,
    participant_leave,
)
from directory.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person
from directory.selectors import person_get_active

ROLES = {r.value for r in Participant.Role}
PRIVACIES = {p.value for p in Conversation.Privacy}
ROOM_KINDS = {k.value for k in Conversation.RoomKind}
LIMITS = {"name": 200, "topic": 500, "description": 5000}


def _text(value, *, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(_("%(field)s must be text.") % {"field": field})
    value = value.strip()
    if len(value) > LIMITS[field]:
        raise InvalidInput(
            _("%(field)s is limited to %(LIMITS)s characters.")
            % {"field": field, "LIMITS": LIMITS[field]}
        )
    return value


def _choice(value, *, field: str, allowed: set[str]) -> str:
    if value not in allowed:
        raise InvalidInput(
            _("%(field)s must be one of %(allowed)s.")
            % {"field": field, "allowed": ", ".join(sorted(allowed))}
        )
    return value


def _walled_refusal(person: Person, category: Category | None) -> Forbidden:
    return Forbidden(
        _("%(username)s may not be in rooms of the category %(category)s (ethical wall).")
        % {"username": person.username, "category": category},
        code="walled_out",
    )


def _category_for_creator(*, category_id, person: Person) -> Category | None:
    if category_id is None or category_id == "":
        return None
    if isinstance(category_id, bool) or not isinstance(category_id, int):
        raise InvalidInput(_("category must be a category id (an integer)."))
    category = Category.objects.filter(pk=category_id).first()
    if category is None or category_is_walled(category_id=category_id, person_id=person.pk):
        raise NotFound(
            _("Category %(category_id)s does not exist.") % {"category_id": category_id},
            code="category_not_found",
        )
    if not category_can_create(category_id=category_id, person_id=person.pk):
        raise Forbidden(
            _("Only the category's creators may create rooms in %(category)s.")
            % {"category": category},
            code="not_category_creator",
        )
    return category


def _person(username) -> Person:
    person = person_get_active(username=username) if isinstance(username, str) else None
    if person is None:
        raise NotFound(
            _("No active person named %(username)s.") % {"username": username},
            code="person_not_found",
        )
    return person


@transaction.atomic
def room_create(
    *,
    creator: Person,
    title: str,
    topic: str = "",
    description: str = "",
    category_id: int | None = None,
    privacy: str = Conversation.Privacy.OPEN,
    room_kind: str = Conversation.RoomKind.NORMAL,
    members: list[Person] | tuple = (),
) -> Conversation:
    """Store a persistent room with its creator as its first manager."""
    title = _text(title, field="name")
    if not title:
        raise InvalidInput(_("A room needs a name."))
    topic, description = _text(topic, field="topic"), _text(description, field="description")
    privacy = _choice(privacy, field="privacy", allowed=PRIVACIES)
    room_kind = _choice(room_kind, field="kind", allowed=ROOM_KINDS)
    category = _category_for_creator(category_id=category_id, person=creator)
    people = [creator, *[m for m in members if m.pk != creator.pk]]
    walled = category_walled_person_ids(
        category_id=category.pk if category else None, person_ids=[p.pk for p in people]
    )
    if walled:
        raise _walled_refusal(next(p for p in people if p.pk in walled), category)
    return _conversation_start(
        kind=Conversation.Kind.ROOM,
        creator=creator,
        members=people,
        title=title,
        topic=topic,
        description=description,
        category=category,
        privacy=privacy,
        room_kind=room_kind,
    )


def _room_locked_for_manager(*, actor: Person, room_id: int, action: str) -> Conversation:
    # The visible room carries the actor's active role (walls already applied to the room).
    if room_get_visible(person_id=actor.pk, room_id=room_id).my_role != Participant.Role.MANAGER:
        raise Forbidden(
            _("Only a room manager can %(action)s.") % {"action": action}, code="not_manager"
        )
    return (
        Conversation.objects.select_related("category")
        .select_for_update(of=("self",))
        .get(pk=room_id)
    )


def _member_insert(
    *, room: Conversation, person: Person, role: str, actor: Person, via: str
) -> Participant:
    """Add a person to a locked room: wall checked, history per category, archived."""
    if category_walled_person_ids(category_id=room.category_id, person_ids=[person.pk]):
        raise _walled_refusal(person, room.category)
    if active_participants(room.pk).filter(person=person).exists():
        raise Conflict(
            _("%(username)s is already in this room.") % {"username": person.username},
            code="already_member",
        )
    keeps_history = room.category is None or room.category.keeps_history
    return _participant_join(
        room,
        person=person,
        actor=actor,
        role=role,
        visible_after_seq=0 if keeps_history else room.last_seq,
        payload={"person": person.username, "role": role, "via": via},
    )


def _member_remove(
    *, room: Conversation, participant: Participant, actor: Person | None, reason: str
) -> None:
    """End a participation in a locked room, archived, and detach the person's sockets."""
    _capture(
        room,
        # A leave, as the archive and its exports count membership: joined / left events.
        event=ArchiveEvent.PARTICIPANT_LEFT,
        actor=actor,
        occurred_at=timezone.now(),
        payload={"person": participant.person.username, "reason": reason},
    )
    participant.left_at = timezone.now()
    participant.save(update_fields=["left_at"])
    room_id, person_id = room.pk, participant.person_id
    actor_id = actor.pk if actor is not None else None
    transaction.on_commit(
        lambda: realtime.conversation_left(
            conversation_id=room_id, person_id=person_id, reason=reason, actor_id=actor_id
        ),
        robust=True,
    )


@transaction.atomic
def room_update(*, actor: Person, room_id: int, changes: dict) -> Conversation:
    """Change a room's name, topic, description, privacy, kind or category (managers)."""
    room = _room_locked_for_manager(actor=actor, room_id=room_id, action="edit this room")
    allowed = {"name", "topic", "description", "privacy", "kind", "category"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(
            _("Unknown field(s): %(unknown)s.") % {"unknown": ", ".join(sorted(unknown))}
        )
    changed: dict[str, object] = {}
    if "name" in changes:
        name = _text(changes["name"], field="name")
        if not name:
            raise InvalidInput(_("A room needs a name."))
        room.title = changed["name"] = name
    for field in ("topic", "description"):
        if field in changes:
            value = _text(changes[field], field=field)
            setattr(room, field, value)
            changed[field] = value
    if "privacy" in changes:
        room.privacy = changed["privacy"] = _choice(
            changes["privacy"], field="privacy", allowed=PRIVACIES
        )
    if "kind" in changes:
        room.room_kind = changed["kind"] = _choice(
            changes["kind"], field="kind", allowed=ROOM_KINDS
        )
    if "category" in changes and changes["category"] != room.category_id:
        room.category = _category_for_creator(category_id=changes["category"], person=actor)
        changed["category"] = room.category.name if room.category else None
    room.save()
    _capture(
        room,
        event=ArchiveEvent.ROOM_UPDATED,
        actor=actor,
        occurred_at=timezone.now(),
        payload=changed,
    )
    if "category" in changed:
        _room_members_recheck(room=room, actor=actor)
    transaction.on_commit(lambda: realtime.room_updated(room_id=room.pk), robust=True)
    return room


def _room_members_recheck(*, room: Conversation, actor: Person | None) -> int:
    """Remove the members the room's category now walls out; return how many."""
    walled = category_walled_person_ids(
        category_id=room.category_id, person_ids=active_participants(room.pk).values("person_id")
    )
    if not walled:
        return 0
    for participant in (
        active_participants(room.pk).filter(person_id__in=walled).select_related("person")
    ):
        _member_remove(room=room, participant=participant, actor=actor, reason="ethical_wall")
    return len(walled)


@transaction.atomic
def room_join(*, person: Person, room_id: int) -> Participant:
    """Join an open room (if its category allows the person)."""
    room = room_get_visible(person_id=person.pk, room_id=room_id)
    if room.is_member:
        raise Conflict(_("You are already in this room."), code="already_member")
    if room.privacy != Conversation.Privacy.OPEN:
        raise Forbidden(
            _("This room is closed: ask one of its managers for an invitation."), code="room_closed"
        )
    locked = Conversation.objects.select_related("category").select_for_update(of=("self",))
    return _member_insert(
        room=locked.get(pk=room_id), person=person, role="member", actor=person, via="join"
    )


@transaction.atomic
def room_leave(*, person: Person, room_id: int) -> None:
    """Leave a room; its last manager must first make someone else a manager."""
    participation = participation_active(person_id=person.pk, conversation_id=room_id).first()
    if participation is None or participation.conversation.kind != Conversation.Kind.ROOM:
        raise NotFound(
            _("Room %(room_id)s does not exist or you are not in it.") % {"room_id": room_id},
            code="room_not_found",
        )
    Conversation.objects.select_for_update().filter(pk=room_id).first()
    _last_manager_check(participation, leaving=True)
    participant_leave(person=person, conversation_id=room_id)


def _last_manager_check(participant: Participant, *, leaving: bool) -> None:
    if participant.role != Participant.Role.MANAGER:
        return
    room_id = participant.conversation_id
    managers = active_participants(room_id).filter(role=Participant.Role.MANAGER).count()
    others = active_participants(room_id).exclude(pk=participant.pk).exists()
    if managers == 1 and (others or not leaving):
        raise Conflict(
            _("A room needs a manager: make someone else a manager first."), code="last_manager"
        )


def _member_of(room: Conversation, username) -> Participant:
    person = _person(username)
    participant = active_participants(room.pk).filter(person=person).select_related("person")
    found = participant.first()
    if found is None:
        raise NotFound(
            _("%(username)s is not in this room.") % {"username": username}, code="member_not_found"
        )
    return found


@transaction.atomic
def room_member_add(
    *, actor: Person, room_id: int, username: str, role: str = "member"
) -> tuple[Participant, bool]:
    """Add a person with a role (managers); an existing member gets the role instead."""
    role = _choice(role, field="role", allowed=ROLES)
    room = _room_locked_for_manager(actor=actor, room_id=room_id, action="add people")
    person = _person(username)
    existing = active_participants(room.pk).filter(person=person).first()
    if existing is not None:
        if existing.role == role:
            raise Conflict(
                _("%(username)s is already in this room.") % {"username": username},
                code="already_member",
            )
        return _role_change(room=room, participant=existing, role=role, actor=actor), False
    participant = _member_insert(room=room, person=person, role=role, actor=actor, via="added")
    return participant, True


def _role_change(
    *, room: Conversation, participant: Participant, role: str, actor: Person
) -> Participant:
    if role != Participant.Role.MANAGER:
        _last_manager_check(participant, leaving=False)
    before = participant.role
    participant.role = role
    participant.save(update_fields=["role"])
    _capture(
        room,
        event=ArchiveEvent.PARTICIPANT_ROLE_CHANGED,
        actor=actor,
        occurred_at=timezone.now(),
        payload={"person": participant.person.username, "from": before, "to": role},
    )
    transaction.on_commit(lambda: realtime.room_updated(room_id=room.pk), robust=True)
    return participant


@transaction.atomic
def room_member_role_change(
    *, actor: Person, room_id: int, username: str, role: str
) -> Participant:
    """Give a member another role (managers)."""
    role = _choice(role, field="role", allowed=ROLES)
    room = _room_locked_for_manager(actor=actor, room_id=room_id, action="change roles")
    participant = _member_of(room, username)
    if participant.role == role:
        return participant
    return _role_change(room=room, participant=participant, role=role, actor=actor)


@transaction.atomic
def room_member_remove(*, actor: Person, room_id: int, username: str) -> None:
    """Remove a member (managers); removing oneself is leaving."""
    if username == actor.username:
        room_leave(person=actor, room_id=room_id)
        return
    room = _room_locked_for_manager(actor=actor, room_id=room_id, action="remove people")
    participant = _member_of(room, username)
    _member_remove(room=room, participant=participant, actor=actor, reason="removed_by_manager")


@transaction.atomic
def invitation_create(*, actor: Person, room_id: int, username: str) -> Invitation:
    """Invite a person to a room (managers; only when the category allows invitations)."""
    room = _room_locked_for_manager(actor=actor, room_id=room_id, action="invite people")
    if room.category is not None and not room.category.allows_invitations:
        raise Forbidden(
            _("The category %(category)s does not allow invitations; add the person instead.")
            % {"category": room.category},
            code="invitations_disabled",
        )
    person = _person(username)
    if category_walled_person_ids(category_id=room.category_id, person_ids=[person.pk]):
        raise _walled_refusal(person, room.category)
    if active_participants(room.pk).filter(person=person).exists():
        raise Conflict(
            _("%(username)s is already in this room.") % {"username": username},
            code="already_member",
        )
    if Invitation.objects.filter(
        conversation=room, invitee=person, status=Invitation.Status.PENDING
    ).exists():
        raise Conflict(
            _("%(username)s already has an invitation.") % {"username": username},
            code="already_invited",
        )
    invitation = Invitation.objects.create(conversation=room, invitee=person, invited_by=actor)
    _capture(
        room,
        event=ArchiveEvent.PARTICIPANT_INVITED,
        actor=actor,
        occurred_at=invitation.created_at,
        payload={"person": person.username},
    )
    transaction.on_commit(lambda: realtime.invitation_new(invitation=invitation), robust=True)
    return invitation


@transaction.atomic
def invitation_answer(*, person: Person, invitation_id: int, is_accepted: bool) -> Invitation:
    """Accept (join the room) or decline one's own pending invitation."""
    invitation = (
        Invitation.objects.select_for_update()
        .filter(pk=invitation_id, invitee=person, status=Invitation.Status.PENDING)
        .first()
    )
    room = (
        Conversation.objects.select_related("category")
        .select_for_update(of=("self",))
        .filter(pk=invitation.conversation_id)
        .first()
        if invitation is not None
        else None
    )
    if room is None or category_is_walled(category_id=room.category_id, person_id=person.pk):
        raise NotFound(
            _("Invitation %(invitation_id)s does not exist.") % {"invitation_id": invitation_id},
            code="invitation_not_found",
        )
    if is_accepted and room.category is not None and not room.category.allows_invitations:
        raise Forbidden(
            _("The category %(category)s no longer allows invitations.")
            % {"category": room.category},
            code="invitations_disabled",
        )
    invitation.status = Invitation.Status.ACCEPTED if is_accepted else Invitation.Status.DECLINED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])
    if is_accepted:
        if not active_participants(room.pk).filter(person=person).exists():
            _member_insert(room=room, person=person, role="member", actor=person, via="invitation")
    else:
        _capture(
            room,
            event=ArchiveEvent.INVITATION_DECLINED,
            actor=person,
            occurred_at=invitation.answered_at,
            payload={"person": person.username},
        )
    return invitation
