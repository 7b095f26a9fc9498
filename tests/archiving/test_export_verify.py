"""export_verify: an export checked against its manifest; each kind of tampering is caught."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from archiving.exports import runner
from archiving.models import ExportJob
from tests.archiving.export_data import conversation_fill
from tests.archiving.test_exports import DAY1, WINDOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_export(export):
    conversation_fill(
        9, kind="group", members=["alice", "bob"], start=DAY1, count=40, step_seconds=2 * 3600
    )
    job = ExportJob.objects.get(pk=export({"format": "eml", "search": WINDOW}).json()["id"])
    assert job.status == "completed", job.error
    return runner.job_directory(job)


def test_export_verify_passes_an_intact_export(finished_export, capsys):
    call_command("export_verify", str(finished_export))

    assert "4 files, 41 records; matches its manifest" in capsys.readouterr().out


def test_export_verify_reports_a_flipped_byte(finished_export, capsys):
    target = finished_export / "conversation-9/2026-11-03.eml"
    data = bytearray(target.read_bytes())
    data[200] ^= 0x01
    target.write_bytes(bytes(data))

    with pytest.raises(CommandError, match="1 problem"):
        call_command("export_verify", str(finished_export))

    assert "ALTERED conversation-9/2026-11-03.eml: SHA-256" in capsys.readouterr().out


def test_export_verify_reports_a_removed_file(finished_export, capsys):
    (finished_export / "conversation-9/2026-11-04.eml").unlink()

    with pytest.raises(CommandError, match="1 problem"):
        call_command("export_verify", str(finished_export))

    assert "MISSING conversation-9/2026-11-04.eml" in capsys.readouterr().out


def test_export_verify_reports_an_added_file(finished_export, capsys):
    (finished_export / "conversation-9/2026-11-09.eml").write_bytes(b"Subject: planted\r\n\r\n")

    with pytest.raises(CommandError, match="1 problem"):
        call_command("export_verify", str(finished_export))

    assert "EXTRA conversation-9/2026-11-09.eml" in capsys.readouterr().out


def test_export_verify_reports_counts_that_disagree(finished_export, capsys):
    manifest = finished_export / "manifest.json"
    manifest.write_text(
        manifest.read_text().replace('"expected_records": 41', '"expected_records": 42')
    )

    with pytest.raises(CommandError, match="1 problem"):
        call_command("export_verify", str(finished_export))

    assert "COUNT expected 42 records, written 41" in capsys.readouterr().out
