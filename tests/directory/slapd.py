"""A real OpenLDAP slapd on loopback for the directory tests: slapd.conf and an mdb database in
a temporary folder, a free port, entries loaded with ldapadd."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Not from tests.conftest: bench/directory_sync.py uses this module before Django is set up.
IN_CI = os.environ.get("CI") == "true"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SLAPD = "/usr/sbin/slapd"
LDAPADD = "/usr/bin/ldapadd"
SUFFIX = "dc=parley,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "directory-admin-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
START_TIMEOUT = 20.0

CONFIG = """\
# Written by tests/directory/slapd.py: loopback only, one mdb database.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 33554432
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {dir}/data
index objectClass eq
index uid eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"""


def slapd_or_skip() -> None:
    """Skip (fail in CI) when slapd and ldap-utils are not installed."""
    import pytest

    if not (Path(SLAPD).exists() and Path(LDAPADD).exists()):
        message = "slapd is not installed (scripts/test.sh installs slapd and ldap-utils as root)"
        if IN_CI:
            pytest.fail(f"{message}; CI requires it.")
        pytest.skip(message)


def person_ldif(
    uid: str,
    *,
    name: str,
    password: str,
    mail: str = "",
    title: str = "",
    ou: str = "",
    company: str = "",
    phone: str = "",
    mobile: str = "",
    manager: str = "",
    employee_type: str = "",
) -> str:
    given, _, surname = name.partition(" ")
    lines = [
        f"dn: uid={uid},{PEOPLE}",
        "objectClass: inetOrgPerson",
        f"uid: {uid}",
        f"cn: {name}",
        f"sn: {surname or given}",
        f"givenName: {given}",
        f"displayName: {name}",
        f"userPassword: {password}",
    ]
    for attribute, value in (
        ("mail", mail),
        ("title", title),
        ("ou", ou),
        ("o", company),
        ("telephoneNumber", phone),
        ("mobile", mobile),
        ("manager", f"uid={manager},{PEOPLE}" if manager else ""),
        ("employeeType", employee_type),
    ):
        if value:
            lines.append(f"{attribute}: {value}")
    return "\n".join(lines) + "\n"


def group_ldif(cn: str, members: list[str]) -> str:
    lines = [f"dn: cn={cn},{GROUPS}", "objectClass: groupOfNames", f"cn: {cn}"]
    lines += [f"member: uid={uid},{PEOPLE}" for uid in members] or [f"member: {ROOT_DN}"]
    return "\n".join(lines) + "\n"


@dataclass
class Slapd:
    dir: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def start(self) -> None:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        config = self.dir / "slapd.conf"
        config.write_text(
            CONFIG.format(dir=self.dir, suffix=SUFFIX, root_dn=ROOT_DN, root_password=ROOT_PASSWORD)
        )
        # -d 0 keeps slapd in the foreground (a child we can stop), logging nothing.
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(config), "-h", f"{self.url}/", "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "slapd.log").open("w"),
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"slapd exited at start: {(self.dir / 'slapd.log').read_text()[-2000:]}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("slapd did not listen in time")
        base = "\n".join(
            [
                f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Parley Test"
                "\ndc: parley\n",
                f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
                f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
            ]
        )
        self.add(base)

    def add(self, ldif: str) -> None:
        """Load entries (LDIF, blank-line separated) with ldapadd as the root DN."""
        subprocess.run(
            [LDAPADD, "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
            input=ldif.encode(),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def slapd_start() -> Slapd:
    server = Slapd(dir=Path(tempfile.mkdtemp(prefix="parley-slapd-")), port=free_port())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


def ldap_settings(settings, server: Slapd) -> None:
    """Point Parley at the test directory (the README's settings for OpenLDAP)."""
    settings.PARLEY_LDAP_URL = server.url
    settings.PARLEY_LDAP_BIND_DN = ROOT_DN
    settings.PARLEY_LDAP_BIND_PASSWORD = ROOT_PASSWORD
    settings.PARLEY_LDAP_USER_BASE_DN = PEOPLE
    settings.PARLEY_LDAP_GROUP_BASE_DN = GROUPS
    settings.PARLEY_LDAP_DISABLED_FILTER = "(employeeType=disabled)"
    settings.PARLEY_LDAP_GROUP_NAMES = {"parley-compliance": "Compliance"}
