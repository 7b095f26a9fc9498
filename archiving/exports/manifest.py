"""Chain of custody: the manifest every export carries, its zip, and the verifier.

Design. manifest.json names the scope, who exported and when (the job's creation time, taken
once, so a restarted job writes the same manifest), the archive chain heads covered, the record
count expected from the archive vs the count written, and the SHA-256 and size of every file.
It is written with sorted keys and fixed separators; the zip has fixed timestamps and
permissions and its members in sorted order, so the same export is the same bytes. The
manifest is signed with the server's Ed25519 key (manifest.json.sig, and signing-key.pem
beside it). export_verify() checks the signature against a trusted public key, then re-hashes
an export (directory or zip) against its manifest.
"""

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.json.sig"  # base64 Ed25519 signature of manifest.json's bytes
PUBLIC_KEY_NAME = "signing-key.pem"  # the server's public key (compare it with the console's)
MANIFEST_FILES = (MANIFEST_NAME, SIGNATURE_NAME, PUBLIC_KEY_NAME)
MANIFEST_VERSION = 1
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


def canonical_json(document: dict) -> bytes:
    return (
        json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False, separators=(",", ": "))
        + "\n"
    ).encode()


def sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def zip_member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    info.create_system = 3  # Unix, whatever the machine
    return info


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """Return a deterministic zip of name -> bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            archive.writestr(zip_member(name), members[name], compresslevel=6)
    return buffer.getvalue()


def zip_directory(directory: Path, names: list[str], target: Path) -> None:
    """Write a deterministic zip of the named files of a directory (streamed, not in memory)."""
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(names):
            with (
                (directory / name).open("rb") as source,
                archive.open(zip_member(name), "w", force_zip64=True) as sink,
            ):
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
    partial.replace(target)


@dataclass
class VerifyReport:
    files: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    count_problems: list[str] = field(default_factory=list)
    signature_problems: list[str] = field(default_factory=list)
    signer_sha256: str = ""

    @property
    def is_intact(self) -> bool:
        return not (
            self.missing
            or self.extra
            or self.altered
            or self.count_problems
            or self.signature_problems
        )


class _Source:
    """The files of an export, in a directory or a zip, by their manifest names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None

    def names(self) -> set[str]:
        if self.zip is not None:
            return {n for n in self.zip.namelist() if not n.endswith("/")}
        return {p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()}

    def digest(self, name: str) -> tuple[str, int]:
        if self.zip is None:
            return sha256_file(self.path / name)
        digest, size = hashlib.sha256(), 0
        with self.zip.open(name) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    def read(self, name: str) -> bytes:
        if self.zip is not None:
            return self.zip.read(name)
        return (self.path / name).read_bytes()


def _signature_check(source: "_Source", names: set[str], report: VerifyReport, trusted) -> None:
    from archiving.signing import key_fingerprint, signature_is_valid

    if SIGNATURE_NAME not in names:
        report.signature_problems.append(f"{MANIFEST_NAME} is not signed ({SIGNATURE_NAME})")
        return
    bundled = source.read(PUBLIC_KEY_NAME).decode() if PUBLIC_KEY_NAME in names else None
    key = trusted or bundled
    if key is None:
        report.signature_problems.append("no public key to check the signature with")
        return
    report.signer_sha256 = key_fingerprint(key)
    if bundled is not None and key_fingerprint(bundled) != report.signer_sha256:
        report.signature_problems.append(
            f"{PUBLIC_KEY_NAME} is not the trusted key: the export was signed elsewhere"
        )
    signature = source.read(SIGNATURE_NAME).decode().strip()
    if not signature_is_valid(public_pem=key, data=source.read(MANIFEST_NAME), signature=signature):
        report.signature_problems.append(
            f"the signature does not match {MANIFEST_NAME} (the manifest was altered)"
        )


def export_verify(
    path: Path, *, trusted_public_key: str | None = None
) -> tuple[VerifyReport, dict]:
    """Check an export against its manifest: the manifest's signature (against the trusted
    public key, or the key the export carries when none is given), missing, extra and altered
    files, counts."""
    source = _Source(path)
    names = source.names()
    if MANIFEST_NAME not in names:
        raise FileNotFoundError(f"{path} has no {MANIFEST_NAME}: it is not a Parley export.")
    manifest = json.loads(source.read(MANIFEST_NAME))
    report = VerifyReport()
    _signature_check(source, names, report, trusted_public_key)
    listed = {}
    for entry in manifest.get("files", []):
        name = entry["path"]
        if PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
            report.altered.append(f"{name}: unsafe path in the manifest")
            continue
        listed[name] = entry
    for name, entry in sorted(listed.items()):
        report.files += 1
        if name not in names:
            report.missing.append(name)
            continue
        digest, size = source.digest(name)
        if digest != entry["sha256"] or size != entry["size"]:
            report.altered.append(
                f"{name}: SHA-256 {digest[:16]}... size {size}, the manifest says "
                f"{entry['sha256'][:16]}... size {entry['size']}"
            )
    report.extra = sorted(names - set(listed) - set(MANIFEST_FILES))
    counts = manifest.get("counts", {})
    expected, written = counts.get("expected_records"), counts.get("written_records")
    in_files = sum(entry.get("records", 0) for entry in listed.values())
    if expected != written:
        report.count_problems.append(f"expected {expected} records, written {written}")
    if in_files != written:
        report.count_problems.append(f"the files hold {in_files} records, written says {written}")
    if counts.get("files") != len(listed):
        report.count_problems.append(
            f"the manifest lists {len(listed)} files, its count says {counts.get('files')}"
        )
    return report, manifest
