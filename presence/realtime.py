"""Presence frames, serialised once per relationship level and handed to the fan-out hub."""

from directory import realtime as fanout


def presence_changed(*, person_id: int, projections: dict[str, dict], own: dict | None) -> None:
    """Announce a change: one publish per watch key given (at most selectors.WATCH_KEYS,
    whatever the number of watchers), plus one to the person's own sockets."""
    for key in projections:
        fanout.watchers_frame_send(
            person_id=person_id,
            level=key,
            frame=fanout.frame_text({"type": "presence.update", **projections[key]}),
        )
    if own is not None:
        fanout.person_frame_send(
            person_id=person_id, frame=fanout.frame_text({"type": "presence.update", **own})
        )


def watcher_moved(*, watcher_id: int, person_id: int, level: str, projection: dict) -> None:
    """Move the watcher's sockets to the new level at once and send what they now see."""
    fanout.person_frame_send(
        person_id=watcher_id,
        frame=fanout.frame_text({"type": "presence.update", **projection}),
        control={"action": "rewatch", "person": person_id, "level": level},
    )


def watch_start(*, watcher_id: int, person_id: int, level: str, projection: dict) -> None:
    """Make the watcher's sockets watch the person (at this level) and send their presence."""
    fanout.person_frame_send(
        person_id=watcher_id,
        # "via" tells clients the membership of a distribution group changed (reload it).
        frame=fanout.frame_text(
            {"type": "presence.update", **projection, "via": "distribution_group"}
        ),
        control={"action": "watch", "person": person_id, "level": level},
    )


def watch_stop(*, watcher_id: int, person_id: int, username: str) -> None:
    """Make the watcher's sockets stop watching the person."""
    fanout.person_frame_send(
        person_id=watcher_id,
        frame=fanout.frame_text({"type": "presence.unsubscribed", "users": [username]}),
        control={"action": "unwatch", "person": person_id},
    )
