"""Demo people, departments and rooms for trying Parley out (never in production)."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chat import services as chat
from chat.models import Category, Conversation
from chat.services.categories import category_create
from directory import services
from directory.models import Department, Person
from presence import services as presence
from presence.models import Contact

# Documented in README.md; change them before letting anyone else near the server.
DEMO_PASSWORD = "parley-demo-2026"  # noqa: S105 - a documented demo password
PEOPLE = [
    # username, display name, title, department, role
    ("alice", "Alice Martin", "Trader", "Trading", "employee"),
    ("bob", "Bob Chen", "Trader", "Trading", "employee"),
    ("carol", "Carol Diaz", "Head of Trading", "Trading", "employee"),
    ("dave", "Dave Okafor", "Analyst", "Research", "employee"),
    ("erin", "Erin Novak", "Analyst", "Research", "employee"),
    ("cora", "Cora Lindqvist", "Compliance Officer", "Compliance", "compliance"),
    ("admin", "Parley Administrator", "IT Administrator", "IT", "admin"),
]
ROOMS = [
    ("Trading desk", "Prices, flows and the day's positions", "Trading", ["alice", "bob", "carol"]),
    (
        "Research notes",
        "Morning notes and company updates",
        "Research",
        ["dave", "erin", "alice", "carol"],
    ),
]
# Room categories, so the room directory starts grouped (name, description).
CATEGORIES = [
    ("Trading", "Desks, flows and positions"),
    ("Research", "Notes and company updates"),
]
# Everyone starts with contacts: (owner, contact, group, relationship).
CONTACTS = [
    ("alice", "bob", "Desk", "workgroup"),
    ("alice", "carol", "Desk", "colleagues"),
    ("alice", "dave", "Research", "colleagues"),
    ("bob", "alice", "Desk", "workgroup"),
    ("bob", "carol", "Desk", "colleagues"),
    ("carol", "alice", "Team", "colleagues"),
    ("carol", "bob", "Team", "colleagues"),
    ("dave", "erin", "Research", "workgroup"),
    ("dave", "alice", "Trading", "colleagues"),
    ("erin", "dave", "Research", "workgroup"),
]


class Command(BaseCommand):
    help = "Create demo people, departments and rooms (refuses to run with DJANGO_PRODUCTION=1)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run with DJANGO_PRODUCTION=1.")
        with transaction.atomic():
            created = self._seed()
        self.stdout.write(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for username, name, title, _department, role in PEOPLE:
            self.stdout.write(f"  {username:<6} {name} — {title} ({role})")
        self.stdout.write(
            self.style.SUCCESS(f"{created} people created." if created else "Demo data present.")
        )

    def _seed(self) -> int:
        compliance, _ = Group.objects.get_or_create(name="Compliance")
        created = 0
        people = {}
        for username, name, title, department, role in PEOPLE:
            person = Person.objects.filter(username=username).first()
            if person is None:
                person = services.person_create(
                    username=username,
                    password=DEMO_PASSWORD,
                    display_name=name,
                    email=f"{username}@parley.example",
                    title=title,
                    department=Department.objects.get_or_create(name=department)[0],
                    company="Parley Demo Bank",
                    work_phone=f"+1 555 0100 {len(people):02d}",
                    is_staff=role == "admin",
                    is_superuser=role == "admin",
                )
                created += 1
                if role == "compliance":
                    person.groups.add(compliance)
            people[username] = person
        categories = {}
        for name, description in CATEGORIES:
            category = Category.objects.filter(name=name).first()
            categories[name] = category or category_create(name=name, description=description)
        for title, topic, department, members in ROOMS:
            if not Conversation.objects.filter(kind="room", title=title).exists():
                chat.room_create(
                    creator=people[members[-1]],
                    title=title,
                    topic=topic,
                    category_id=categories[department].pk,
                    members=[people[m] for m in members],
                )
        for owner, contact, group, relationship in CONTACTS:
            if not Contact.objects.filter(owner=people[owner], person=people[contact]).exists():
                presence.contact_add(
                    owner=people[owner], username=contact, group=group, relationship=relationship
                )
        if not Conversation.objects.filter(kind="direct").exists():
            direct, _ = chat.conversation_direct_get_or_create(
                person=people["alice"], other=people["bob"]
            )
            chat.message_post(
                sender=people["alice"],
                conversation_id=direct.pk,
                body="Morning Bob, are you on the 10:00 call?",
                client_id="seed-1",
            )
        return created
