"""export_verify: an export checked against its manifest; each kind of tampering is caught."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from archiving.exports import runner
from archiving.exports.manifest import canonical_json, sha256_file
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

    with pytest.raises(CommandError, match="2 problem"):
        call_command("export_verify", str(finished_export))

    out = capsys.readouterr().out
    assert "COUNT expected 42 records, written 41" in out
    assert "SIGNATURE the signature does not match manifest.json" in out


def test_export_verify_catches_a_file_altered_with_its_manifest_hash_rewritten(
    finished_export, capsys
):
    """Whoever alters a file and rewrites its hash in the manifest cannot sign the manifest."""
    target = finished_export / "conversation-9/2026-11-03.eml"
    manifest = finished_export / "manifest.json"
    document = json.loads(manifest.read_text())
    target.write_bytes(target.read_bytes().replace(b"quarterly", b"quarterlY"))
    digest, size = sha256_file(target)
    for entry in document["files"]:
        if entry["path"] == "conversation-9/2026-11-03.eml":
            entry["sha256"], entry["size"] = digest, size
    manifest.write_bytes(canonical_json(document))

    with pytest.raises(CommandError, match="1 problem"):
        call_command("export_verify", str(finished_export))

    assert "SIGNATURE the signature does not match manifest.json" in capsys.readouterr().out


def test_export_verify_refuses_an_export_signed_with_another_key(finished_export, capsys, tmp_path):
    other = Ed25519PrivateKey.generate()
    body = (finished_export / "manifest.json").read_bytes()
    (finished_export / "manifest.json.sig").write_text(base64.b64encode(other.sign(body)).decode())
    (finished_export / "signing-key.pem").write_bytes(
        other.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    with pytest.raises(CommandError, match="problem"):
        call_command("export_verify", str(finished_export))

    assert "SIGNATURE signing-key.pem is not the trusted key" in capsys.readouterr().out


def test_export_verify_outside_parley_trusts_the_key_downloaded_from_the_console(
    finished_export, officer_client, capsys, tmp_path
):
    response = officer_client.get("/api/v1/archive/signing-key/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-pem-file")
    key_file = tmp_path / "parley.pem"
    key_file.write_bytes(response.content)

    call_command("export_verify", str(finished_export), "--public-key", str(key_file))

    assert "matches its manifest, signed by key SHA-256" in capsys.readouterr().out
