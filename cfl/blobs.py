"""Raw data by content: files named by their SHA-256 under ``$CFL_HOME/blobs/``.

Large raw data (a spectrum, a chromatogram, an image) does not belong in a ledger record, but the
record must still pin it down. A driver puts the bytes here and puts the returned reference,
``{"sha256": ..., "size": ..., "media_type": ...}``, into its reading's raw data; the journal
lists every such reference in the record's ``blobs`` field, inside the signed hash. Whoever holds
the file can show it is exactly what was measured (its SHA-256 is in a signed record); whoever
does not still sees what was referenced.

Layout: ``blobs/ab/cdef...`` (the first two hex digits as a folder). Files are written to a
temporary name and renamed, so a reader never sees half a blob, and storing the same bytes twice
is a no-op. Files are read-only once written.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cfl.errors import LedgerTampered, NotFound
from cfl.ledger import BlobRef

__all__ = ["BlobStore"]


class BlobStore:
    """A folder of content-addressed files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def default(cls) -> BlobStore:
        """``$CFL_HOME/blobs``."""
        from cfl.settings import Settings

        return cls(Settings().home / "blobs")

    def path(self, sha256: str) -> Path:
        """Where the blob with this SHA-256 is (or would be) kept."""
        return self.folder / sha256[:2] / sha256[2:]

    def put(self, data: bytes, media_type: str = "application/octet-stream") -> BlobRef:
        """Keep ``data``; the reference to put into a reading's raw data."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            partial.write_bytes(data)
            partial.chmod(0o444)
            partial.replace(target)
        return BlobRef(sha256=digest, size=len(data), media_type=media_type)

    def put_file(self, source: Path, media_type: str = "application/octet-stream") -> BlobRef:
        """Keep a copy of the file at ``source``."""
        return self.put(source.read_bytes(), media_type)

    def get(self, ref: BlobRef) -> bytes:
        """The blob's bytes, checked against the reference.

        Raises:
            NotFound: no such blob here.
            LedgerTampered: the file's content is not what the reference names.
        """
        path = self.path(ref.sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(
                f"blob {ref.sha256} is not in {self.folder}; copy it from where it was recorded",
                name=ref.sha256,
            ) from exc
        self._check(ref, data, path)
        return data

    def check(self, ref: BlobRef) -> bool:
        """Whether the blob is here; ``False`` if absent.

        Raises:
            LedgerTampered: it is here but its content is not what the reference names.
        """
        path = self.path(ref.sha256)
        if not path.exists():
            return False
        self._check(ref, path.read_bytes(), path)
        return True

    @staticmethod
    def _check(ref: BlobRef, data: bytes, path: Path) -> None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != ref.sha256 or len(data) != ref.size:
            raise LedgerTampered(
                f"blob {path} does not match its reference (SHA-256 {digest[:12]}..., "
                f"{len(data)} bytes; the record says {ref.sha256[:12]}..., {ref.size} bytes): "
                "the raw data was changed",
                campaign="",
                seq=0,
                kind="edited-blob",
            )
