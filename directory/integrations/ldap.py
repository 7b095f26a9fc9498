"""LDAP / Active Directory through ldap3: read people and groups, check a password by binding.

ldap3 rather than django-auth-ldap: it is pure Python (django-auth-ldap needs python-ldap,
which publishes no wheels and builds against the libldap and libsasl headers), and one client
serves both the sync (paged searches of the whole directory) and the sign-in bind.

Nothing here writes to Parley: the entries come back as plain data for directory.sync.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

import ldap3
from django.conf import settings
from ldap3.core.exceptions import LDAPBindError, LDAPException, LDAPInvalidCredentialsResult
from ldap3.utils.conv import escape_filter_chars

PAGE_SIZE = 500


class DirectoryUnavailable(Exception):
    """The directory server could not be reached or refused the service account."""


@dataclass
class DirectoryEntry:
    """One person as the directory has them; fields are Parley's, already mapped."""

    dn: str
    fields: dict[str, str] = field(default_factory=dict)
    photo: bytes | None = None
    manager_dn: str = ""
    is_disabled: bool = False


@dataclass
class DirectoryGroupEntry:
    dn: str
    cn: str
    member_dns: list[str] = field(default_factory=list)


@dataclass
class DirectorySnapshot:
    people: list[DirectoryEntry]
    groups: list[DirectoryGroupEntry]


def ldap_is_configured() -> bool:
    """Return whether an LDAP server is configured."""
    return bool(settings.PARLEY_LDAP_URL)


def _server() -> ldap3.Server:
    tls = None
    if settings.PARLEY_LDAP_URL.startswith("ldaps://") or settings.PARLEY_LDAP_START_TLS:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED, ca_certs_file=settings.PARLEY_LDAP_CA_FILE or None
        )
    return ldap3.Server(
        settings.PARLEY_LDAP_URL,
        get_info=ldap3.NONE,
        tls=tls,
        connect_timeout=int(settings.PARLEY_LDAP_TIMEOUT_SECONDS),
    )


def _connect(*, user: str | None, password: str | None) -> ldap3.Connection:
    """Open a bound connection (raises LDAPBindError on bad credentials)."""
    connection = ldap3.Connection(
        _server(),
        user=user or None,
        password=password or None,
        receive_timeout=int(settings.PARLEY_LDAP_TIMEOUT_SECONDS),  # ldap3 packs it as an integer
        raise_exceptions=True,
        read_only=True,
    )
    connection.open()
    if settings.PARLEY_LDAP_START_TLS:
        connection.start_tls()
    connection.bind()
    return connection


def _service_connection() -> ldap3.Connection:
    try:
        return _connect(
            user=settings.PARLEY_LDAP_BIND_DN, password=settings.PARLEY_LDAP_BIND_PASSWORD
        )
    except LDAPException as error:
        raise DirectoryUnavailable(
            f"Cannot read the directory at {settings.PARLEY_LDAP_URL} as "
            f"{settings.PARLEY_LDAP_BIND_DN or 'anonymous'}: {error}"
        ) from error


def _mapping() -> dict[str, str]:
    return {name: attr for name, attr in settings.PARLEY_LDAP_ATTRIBUTES.items() if attr}


def _first(attributes: dict, name: str):
    value = attributes.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _entry(raw: dict, *, disabled_dns: set[str]) -> DirectoryEntry | None:
    mapping = _mapping()
    attributes = {key.lower(): value for key, value in raw["raw_attributes"].items()}
    fields: dict[str, str] = {}
    for name, attr in mapping.items():
        if name in ("photo", "manager"):
            continue
        value = _first(attributes, attr.lower())
        fields[name] = value.decode("utf-8", "replace").strip() if value else ""
    if not fields.get("username"):
        return None  # an entry without the username attribute cannot sign in or be matched
    photo = _first(attributes, mapping["photo"].lower()) if "photo" in mapping else None
    manager = _first(attributes, mapping["manager"].lower()) if "manager" in mapping else None
    return DirectoryEntry(
        dn=raw["dn"],
        fields=fields,
        photo=bytes(photo) if photo else None,
        manager_dn=manager.decode("utf-8") if manager else "",
        is_disabled=raw["dn"].lower() in disabled_dns,
    )


def _search(connection: ldap3.Connection, *, base: str, query: str, attributes: list[str]):
    for raw in connection.extend.standard.paged_search(
        base, query, ldap3.SUBTREE, attributes=attributes, paged_size=PAGE_SIZE, generator=True
    ):
        if raw.get("type") == "searchResEntry":
            yield raw


def directory_read() -> DirectorySnapshot:
    """Return every person and group the configured searches find."""
    connection = _service_connection()
    try:
        user_filter = settings.PARLEY_LDAP_USER_FILTER
        disabled_dns: set[str] = set()
        if settings.PARLEY_LDAP_DISABLED_FILTER:
            disabled_dns = {
                raw["dn"].lower()
                for raw in _search(
                    connection,
                    base=settings.PARLEY_LDAP_USER_BASE_DN,
                    query=f"(&{user_filter}{settings.PARLEY_LDAP_DISABLED_FILTER})",
                    attributes=[],
                )
            }
        people = []
        for raw in _search(
            connection,
            base=settings.PARLEY_LDAP_USER_BASE_DN,
            query=user_filter,
            attributes=list(_mapping().values()),
        ):
            entry = _entry(raw, disabled_dns=disabled_dns)
            if entry is not None:
                people.append(entry)
        groups = []
        if settings.PARLEY_LDAP_GROUP_BASE_DN:
            member_attr = settings.PARLEY_LDAP_GROUP_MEMBER_ATTRIBUTE
            for raw in _search(
                connection,
                base=settings.PARLEY_LDAP_GROUP_BASE_DN,
                query=settings.PARLEY_LDAP_GROUP_FILTER,
                attributes=["cn", member_attr],
            ):
                attributes = {key.lower(): value for key, value in raw["raw_attributes"].items()}
                cn = _first(attributes, "cn")
                if not cn:
                    continue
                members = [m.decode("utf-8") for m in attributes.get(member_attr.lower(), [])]
                groups.append(
                    DirectoryGroupEntry(dn=raw["dn"], cn=cn.decode("utf-8"), member_dns=members)
                )
        return DirectorySnapshot(people=people, groups=groups)
    except LDAPException as error:
        raise DirectoryUnavailable(f"Reading the directory failed: {error}") from error
    finally:
        connection.unbind()


def directory_entry_get(*, username: str) -> DirectoryEntry | None:
    """Return the directory entry with this username, or None."""
    connection = _service_connection()
    try:
        attr = _mapping()["username"]
        query = f"(&{settings.PARLEY_LDAP_USER_FILTER}({attr}={escape_filter_chars(username)}))"
        disabled_dns: set[str] = set()
        if settings.PARLEY_LDAP_DISABLED_FILTER:
            disabled_query = f"(&{query}{settings.PARLEY_LDAP_DISABLED_FILTER})"
            disabled_dns = {
                raw["dn"].lower()
                for raw in _search(
                    connection,
                    base=settings.PARLEY_LDAP_USER_BASE_DN,
                    query=disabled_query,
                    attributes=[],
                )
            }
        found = list(
            _search(
                connection,
                base=settings.PARLEY_LDAP_USER_BASE_DN,
                query=query,
                attributes=list(_mapping().values()),
            )
        )
    except LDAPException as error:
        raise DirectoryUnavailable(f"Looking up {username} failed: {error}") from error
    finally:
        connection.unbind()
    if len(found) != 1:
        return None  # none, or an ambiguous name: refuse rather than pick one
    return _entry(found[0], disabled_dns=disabled_dns)


def password_check(*, dn: str, password: str) -> bool:
    """Return whether the directory accepts this password for the entry (a simple bind)."""
    if not password:
        # An empty password is an "unauthenticated bind" that many servers accept: never a
        # sign-in.
        return False
    try:
        connection = _connect(user=dn, password=password)
    except (LDAPBindError, LDAPInvalidCredentialsResult):
        return False
    except LDAPException as error:
        raise DirectoryUnavailable(f"Checking the password failed: {error}") from error
    connection.unbind()
    return True
