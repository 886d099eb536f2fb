"""What an uploaded file really is: its type sniffed from the bytes, and whether it is whole.

Only the types the ledger needs are accepted (photos as JPEG, PNG or WebP; scans as PDF). The type comes
from the content; the name's extension and the type the client declared must agree with it, so an
executable renamed ``photo.jpg`` is refused before anyone downloads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gis_service.errors import DamagedFileError, UnsupportedMediaTypeError

# Declared types that say nothing (curl, scripts, some browsers for unknown files): the content decides.
UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# Decoding a larger image would take gigabytes of memory (Pillow warns at 89 and refuses at 179 megapixels).
MAX_PIXELS = 120_000_000


@dataclass(frozen=True)
class FileType:
    media_type: str
    extensions: tuple[str, ...]
    label: str


JPEG = FileType("image/jpeg", (".jpg", ".jpeg"), "JPEG")
PNG = FileType("image/png", (".png",), "PNG")
WEBP = FileType("image/webp", (".webp",), "WebP")
PDF = FileType("application/pdf", (".pdf",), "PDF")
ACCEPTED_TEXT = "JPEG, PNG, WebP or PDF"


def sniff(head: bytes) -> FileType | None:
    """The type whose signature starts ``head`` (at least the first 12 bytes), or ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def check_declared(kind: FileType | None, name: str, declared_type: str | None) -> FileType:
    """The sniffed type, if the name's extension and the declared media type agree with it (415 otherwise)."""
    extension = os.path.splitext(name)[1].lower()
    if kind is None:
        raise UnsupportedMediaTypeError(f"'{name}' is not a {ACCEPTED_TEXT} file (its content says so, whatever "
                                        "its name); 只接受 JPEG、PNG、WebP 图片或 PDF 文件")
    if extension not in kind.extensions:
        raise UnsupportedMediaTypeError(
            f"'{name}' contains {kind.label} but its name ends in '{extension or '(nothing)'}'; name it "
            f"*{kind.extensions[0]} (文件扩展名与内容不符)")
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared not in UNDECLARED and declared != kind.media_type:
        raise UnsupportedMediaTypeError(f"'{name}' was sent as {declared} but contains {kind.label} "
                                        f"({kind.media_type}); 声明的类型与内容不符")
    return kind


def verify(path: Path, kind: FileType, name: str) -> None:
    """Refuse (422, with the reason) a file whose structure is broken: truncated or damaged in transfer.

    The structural checks (the end marker each format has) need nothing and catch the common case, a
    cut-off upload. Pillow, when installed (it comes with matplotlib but is not a declared dependency, so it
    is imported here and only here), decodes the whole image and so also catches damage inside the data.
    A JPEG is left to Pillow when it can: phones append data after the end-of-image marker (motion photos),
    which the structural check would refuse. PDFs are checked structurally only: no PDF reader is a dependency.
    """
    pillow = _pillow()
    reason = _structure_problem(path, kind, jpeg=pillow is None) or _decode_problem(path, kind, pillow)
    if reason:
        raise DamagedFileError(f"'{name}' is a damaged {kind.label} file ({reason}); nothing was stored. "
                              f"文件已损坏,未保存:{reason}")


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib here
        return None
    return Image


def _structure_problem(path: Path, kind: FileType, *, jpeg: bool) -> str | None:
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(16)
        file.seek(max(0, size - 1024))
        tail = file.read()
    if jpeg and kind is JPEG and b"\xff\xd9" not in tail[-64:]:
        return "no JPEG end-of-image marker: the file is cut off"
    if kind is PNG and not tail.endswith(b"IEND\xaeB`\x82"):
        return "no PNG IEND chunk at the end: the file is cut off"
    if kind is WEBP and int.from_bytes(head[4:8], "little") + 8 != size:
        return "the RIFF size does not match the file size: the file is cut off or padded"
    if kind is PDF and b"%%EOF" not in tail:
        return "no %%EOF in the last 1024 bytes: the file is cut off"
    return None


def _decode_problem(path: Path, kind: FileType, image_module: Any) -> str | None:
    if kind is PDF or image_module is None:
        return None
    try:
        with image_module.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                return f"{width} x {height} pixels is more than {MAX_PIXELS // 1_000_000} megapixels"
            image.verify()  # checksums (PNG CRCs) without decoding
        with image_module.open(path) as image:
            image.load()  # decodes every pixel: raises on truncated or damaged data
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError… for broken data
        return f"cannot be decoded: {exc}"
    return None
