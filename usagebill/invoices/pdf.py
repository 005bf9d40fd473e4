"""A small PDF writer for the fixed invoice layout: text in an embedded TrueType font, lines, pages.

Why not fpdf2 for every document: profiled on a 6-line invoice (bench/bench_documents.py), fpdf2
spends about half of a document's CPU subsetting the font with fontTools at output (parse, prune,
re-compile the glyf table) and a third laying out its table; together about 45-60 ms per document.
This writer parses each font once per process and, per document, only copies the byte ranges of
the glyphs the document uses (glyph ids are kept, unused glyphs become empty), so a document costs
a few milliseconds. fpdf2 stays the engine for documents this writer cannot print exactly (a
character missing from the font, no TrueType font installed): see documents.render_pdf.

The PDF follows ISO 32000-1:2008 (PDF 1.7; https://opensource.adobe.com/dc-acrobat-sdk-docs/
pdfstandards/PDF32000_2008.pdf):
- 9.7.4 / 9.7.6: each font is a Type 0 font with Identity-H encoding over a CIDFontType2
  descendant; CIDToGIDMap /Identity, so the 2-byte codes in the content stream are glyph ids.
- 9.9, the text after Table 126 (PDF Reference 1.7 5.8, p. 468): a TrueType program always needs
  the "head", "hhea", "loca", "maxp", "cvt ", "prep", "glyf", "hmtx" and "fpgm" tables; used
  with a CIDFont dictionary it needs no "cmap".
- 9.6.4 / 9.7.6.2: the subset's /BaseFont is prefixed with six upper-case letters and "+".
- 9.10.3: a /ToUnicode CMap maps every glyph id used back to its characters, so text can be
  extracted and searched (pdftotext, screen readers).
- 7.5: header, objects, cross-reference table with 20-byte entries, trailer.
The TrueType layout (table directory, checksums, loca, composite glyphs) follows the OpenType
spec, https://learn.microsoft.com/typography/opentype/spec/otff and .../glyf.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import zlib
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate, groupby
from pathlib import Path

MM = 72 / 25.4  # points per millimetre
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0  # A4, millimetres
# tables a CIDFontType2 program needs (ISO 32000-1 9.9, after Table 126), in the file's tag order
KEPT_TABLES = ("cvt ", "fpgm", "glyf", "head", "hhea", "hmtx", "loca", "maxp", "prep")
# deflate level of the streams: level 6 (zlib's default) costs ~2x level 1 for a few % less size
COMPRESSION_LEVEL = 6


class FontError(ValueError):
    """The font file cannot be used by this writer (the caller falls back to fpdf2)."""


def _checksum(data: bytes) -> int:
    """OpenType table checksum: the sum of the big-endian uint32s, zero-padded, modulo 2**32."""
    words = array("L" if array("L").itemsize == 4 else "I", data + b"\0" * (-len(data) % 4))
    if sys.byteorder == "little":
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


class TrueTypeFont:
    """One TrueType font file, parsed once: the character map, advance widths, and each glyph's
    byte range in "glyf" (with the components of composite glyphs), to subset it per document."""

    def __init__(self, path: Path, name: str) -> None:
        from fontTools import ttLib

        data = path.read_bytes()
        if data[:4] not in (b"\x00\x01\x00\x00", b"true"):
            raise FontError(f"{path}: not a TrueType (glyf) font")
        (count,) = struct.unpack(">H", data[4:6])
        self.tables: dict[str, bytes] = {}
        for index in range(count):
            tag, _, offset, length = struct.unpack(">4sIII", data[12 + 16 * index : 28 + 16 * index])
            self.tables[tag.decode("latin-1")] = data[offset : offset + length]
        missing = [
            t for t in ("glyf", "head", "hhea", "hmtx", "loca", "maxp", "cmap") if t not in self.tables
        ]
        if missing:
            raise FontError(f"{path}: no {', '.join(missing)} table")
        head, hhea = self.tables["head"], self.tables["hhea"]
        self.units_per_em = struct.unpack(">H", head[18:20])[0]
        self.bbox = struct.unpack(">4h", head[36:44])
        long_loca = struct.unpack(">h", head[50:52])[0] == 1
        self.ascent, self.descent = struct.unpack(">hh", hhea[4:8])
        self.metrics_count = struct.unpack(">H", hhea[34:36])[0]
        self.glyph_count = struct.unpack(">H", self.tables["maxp"][4:6])[0]
        loca = self.tables["loca"]
        if long_loca:
            self.loca = list(struct.unpack(f">{self.glyph_count + 1}I", loca[: 4 * (self.glyph_count + 1)]))
        else:
            self.loca = [
                2 * o for o in struct.unpack(f">{self.glyph_count + 1}H", loca[: 2 * (self.glyph_count + 1)])
            ]
        hmtx = self.tables["hmtx"]
        advances = list(struct.unpack(f">{2 * self.metrics_count}H", hmtx[: 4 * self.metrics_count])[0::2])
        advances += [advances[-1]] * (self.glyph_count - self.metrics_count)
        self.advances = advances
        font = ttLib.TTFont(path, lazy=True)
        order = {glyph: gid for gid, glyph in enumerate(font.getGlyphOrder())}
        best = font.getBestCmap() or {}
        self.glyph_of: dict[str, int] = {chr(code): order[glyph] for code, glyph in best.items()}
        self.width_of: dict[str, int] = {ch: advances[gid] for ch, gid in self.glyph_of.items()}
        self.hex_of: dict[str, str] = {ch: f"{gid:04X}" for ch, gid in self.glyph_of.items()}
        os2 = self.tables.get("OS/2", b"")
        version = struct.unpack(">H", os2[:2])[0] if len(os2) >= 2 else 0
        self.cap_height = (
            struct.unpack(">h", os2[88:90])[0] if version >= 2 and len(os2) >= 90 else self.ascent
        )
        post = self.tables.get("post", b"")
        self.italic_angle = struct.unpack(">i", post[4:8])[0] / 65536 if len(post) >= 8 else 0.0
        self.bold = struct.unpack(">H", head[44:46])[0] & 1 == 1
        self.name = name
        self._components: dict[int, tuple[int, ...]] = {}

    def components(self, gid: int) -> tuple[int, ...]:
        """Glyph ids a composite glyph is built from (glyf spec, "Composite glyph description")."""
        cached = self._components.get(gid)
        if cached is not None:
            return cached
        glyph = self.tables["glyf"][self.loca[gid] : self.loca[gid + 1]]
        parts: list[int] = []
        if len(glyph) >= 10 and struct.unpack(">h", glyph[:2])[0] < 0:
            offset, more = 10, True
            while more and offset + 4 <= len(glyph):
                flags, component = struct.unpack(">HH", glyph[offset : offset + 4])
                parts.append(component)
                offset += 4 + (4 if flags & 0x0001 else 2)  # ARG_1_AND_2_ARE_WORDS
                if flags & 0x0008:  # WE_HAVE_A_SCALE
                    offset += 2
                elif flags & 0x0040:  # WE_HAVE_AN_X_AND_Y_SCALE
                    offset += 4
                elif flags & 0x0080:  # WE_HAVE_A_TWO_BY_TWO
                    offset += 8
                more = bool(flags & 0x0020)  # MORE_COMPONENTS
        closed = tuple(dict.fromkeys(p for c in parts for p in (c, *self.components(c))))
        self._components[gid] = closed
        return closed

    def subset(self, gids: Iterable[int]) -> bytes:
        """The font with only `gids` (and .notdef, and their components) drawn; every other glyph is
        empty and zero-width. Glyph ids do not change, so the content stream's codes stay valid."""
        used = {0}
        for gid in gids:
            used.add(gid)
            used.update(self.components(gid))
        glyf_source, loca = self.tables["glyf"], self.loca
        lengths = [0] * self.glyph_count
        pieces = []
        for gid in sorted(used):
            piece = glyf_source[loca[gid] : loca[gid + 1]]
            piece += b"\0" * (-len(piece) % 4)
            pieces.append(piece)
            lengths[gid] = len(piece)
        glyf = b"".join(pieces)
        offsets = [0, *accumulate(lengths)]
        new_loca = struct.pack(f">{len(offsets)}I", *offsets)
        hmtx_source = self.tables["hmtx"]
        hmtx = bytearray(len(hmtx_source))
        count = self.metrics_count
        for gid in used:
            start = 4 * gid if gid < count else 4 * count + 2 * (gid - count)
            end = start + (4 if gid < count else 2)
            hmtx[start:end] = hmtx_source[start:end]
        head = bytearray(self.tables["head"])
        head[8:12] = b"\0\0\0\0"  # checkSumAdjustment, set below
        head[50:52] = b"\x00\x01"  # long loca offsets
        tables = {tag: self.tables[tag] for tag in KEPT_TABLES if tag in self.tables}
        tables.update({"glyf": glyf, "loca": new_loca, "hmtx": bytes(hmtx), "head": bytes(head)})
        return _sfnt(tables)


def _sfnt(tables: dict[str, bytes]) -> bytes:
    """A TrueType file from its tables: offset table, table records sorted by tag, tables 4-aligned,
    head.checkSumAdjustment = 0xB1B0AFBA - checksum of the whole file (OpenType spec, "head")."""
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(
        ">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1, count * 16 - power * 16
    )
    offset = 12 + 16 * count
    records, bodies = [], []
    for tag in tags:
        body = tables[tag]
        records.append(struct.pack(">4sIII", tag.encode("latin-1"), _checksum(body), offset, len(body)))
        padded = body + b"\0" * (-len(body) % 4)
        bodies.append(padded)
        offset += len(padded)
    font = bytearray(header + b"".join(records) + b"".join(bodies))
    adjustment = (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF
    head_at = 12 + 16 * count + sum(len(b) for b in bodies[: tags.index("head")])
    font[head_at + 8 : head_at + 12] = struct.pack(">I", adjustment)
    return bytes(font)


def _pdf_string(text: str) -> bytes:
    """A text string (ISO 32000-1 7.9.2.2): PDFDocEncoding-safe ASCII as a literal, else UTF-16BE."""
    if text.isascii() and text.isprintable():
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return f"({escaped})".encode("ascii")
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _unicode_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _tag(gids: Sequence[int]) -> str:
    """Six upper-case letters naming the subset (ISO 32000-1 9.6.4), derived from its glyphs."""
    digest = hashlib.sha256(",".join(map(str, gids)).encode()).digest()
    return "".join(chr(65 + byte % 26) for byte in digest[:6])


class Face:
    """A font style (regular, bold) as a primary font and fallback fonts: each character prints in
    the first font that has a glyph for it (the fallbacks are loaded on the first character the
    primary lacks). Per character: its font, its advance in em, its 2-byte code (the glyph id)."""

    def __init__(
        self, primary: TrueTypeFont, fallbacks: Callable[[], Sequence[TrueTypeFont]] = tuple
    ) -> None:
        self.fonts = [primary]
        self._load_fallbacks: Callable[[], Sequence[TrueTypeFont]] | None = fallbacks
        self.font_of: dict[str, TrueTypeFont] = {}
        self.width: dict[str, float] = {}
        self.hex: dict[str, str] = {}
        self._add(primary, primary.glyph_of.keys())

    def _add(self, font: TrueTypeFont, characters: Iterable[str]) -> None:
        for ch in characters:
            if ch in self.font_of:
                continue
            self.font_of[ch] = font
            self.width[ch] = font.width_of[ch] / font.units_per_em
            self.hex[ch] = font.hex_of[ch]

    def cover(self, text: str) -> None:
        """Make every character of `text` printable; KeyError names one no font has a glyph for."""
        if self.width.keys() >= set(text):
            return
        if self._load_fallbacks is not None:
            for font in self._load_fallbacks():
                self.fonts.append(font)
            self._load_fallbacks = None
        for ch in set(text) - self.width.keys():
            font = next((f for f in self.fonts if ch in f.glyph_of), None)
            if font is None:
                raise KeyError(ch)
            self._add(font, ch)


@dataclass
class _Page:
    ops: list[str] = field(default_factory=list)


class Canvas:
    """Pages of A4 in millimetres from the top-left (like fpdf2): text cells, wrapping rows, rules.

    Layout rules (the same as the fpdf2 layout it replaces): 10 mm margins, 1 mm cell padding,
    text baseline at y + h/2 + 0.3 x font size, a new page when the next line would pass 15 mm
    from the bottom."""

    LEFT = TOP = RIGHT = 10.0
    BOTTOM = 15.0
    PADDING = 1.0

    def __init__(self, faces: dict[str, Face]) -> None:
        self.faces = faces
        # per font used: its resource name (/F1...) and the glyphs used (glyph id -> character)
        self.keys: dict[TrueTypeFont, str] = {}
        self.used: dict[TrueTypeFont, dict[int, str]] = {}
        self.pages: list[_Page] = []
        self.y = self.TOP
        self.style, self.size = "", 10.0
        self.add_page()

    @property
    def width(self) -> float:
        return PAGE_WIDTH - self.LEFT - self.RIGHT

    def add_page(self) -> None:
        self.pages.append(_Page(["0.57 w 0 G 0 g"]))
        self.y = self.TOP

    def set_font(self, style: str, size: float) -> None:
        self.style, self.size = style, size

    def string_width(self, text: str) -> float:
        """Width in mm of `text` in the current style and size."""
        face = self.faces[self.style]
        face.cover(text)
        width = face.width
        return sum(width[ch] for ch in text) * self.size / MM

    def break_if_needed(self, height: float) -> bool:
        """A new page when `height` mm more would pass the bottom margin (not on a fresh page)."""
        if self.y + height <= PAGE_HEIGHT - self.BOTTOM or self.y <= self.TOP:
            return False
        self.add_page()
        return True

    def text_at(self, x: float, baseline: float, text: str) -> None:
        if not text:
            return
        face = self.faces[self.style]
        face.cover(text)
        hex_of = face.hex
        shows = []
        # one run per font (the primary, or a fallback for characters it lacks); each Tj moves the
        # text position by the run's widths (/W), so the runs follow each other
        for font, run in groupby(text, key=face.font_of.__getitem__):
            characters = "".join(run)
            used = self.used.setdefault(font, {})
            glyph_of = font.glyph_of
            for ch in characters:
                used.setdefault(glyph_of[ch], ch)
            key = self.keys.setdefault(font, f"F{len(self.keys) + 1}")
            codes = "".join(hex_of[ch] for ch in characters)
            shows.append(f"/{key} {self.size:.2f} Tf <{codes}> Tj")
        self.pages[-1].ops.append(
            f"BT {x * MM:.2f} {(PAGE_HEIGHT - baseline) * MM:.2f} Td {' '.join(shows)} ET"
        )

    def cell_text(self, x: float, y: float, w: float, h: float, text: str, align: str = "L") -> None:
        left = x + w - self.PADDING - self.string_width(text) if align == "R" else x + self.PADDING
        self.text_at(left, y + h / 2 + 0.3 * self.size / MM, text)

    def rule(self, x1: float, y1: float, x2: float) -> None:
        self.pages[-1].ops.append(
            f"{x1 * MM:.2f} {(PAGE_HEIGHT - y1) * MM:.2f} m {x2 * MM:.2f} {(PAGE_HEIGHT - y1) * MM:.2f} l S"
        )

    def wrap(self, text: str, width: float) -> list[str]:
        """Lines of `text` no wider than `width` mm less the padding: broken at spaces, a word
        wider than a line broken between characters; explicit newlines kept."""
        face = self.faces[self.style]
        face.cover(text.replace("\n", ""))
        room = (width - 2 * self.PADDING) * MM / self.size  # in em
        width_of = face.width
        space = width_of.get(" ", 0)
        lines: list[str] = []
        for paragraph in text.split("\n"):
            current: list[str] = []
            used = 0
            for word in paragraph.split(" "):
                size = sum(width_of[ch] for ch in word)
                extra = size + (space if current else 0)
                if used + extra <= room:
                    current.append(word)
                    used += extra
                    continue
                if current:
                    lines.append(" ".join(current))
                    current, used = [], 0
                if size > room and len(word) > 1:  # a word longer than the line: cut it, one pass
                    start, taken = 0, 0.0
                    for index, ch in enumerate(word):
                        if taken + width_of[ch] > room and index > start:
                            lines.append(word[start:index])
                            start, taken = index, 0.0
                        taken += width_of[ch]
                    word, size = word[start:], taken
                current, used = [word], size
            lines.append(" ".join(current))
        return lines

    def paragraph(self, text: str, size: float, style: str, height: float) -> None:
        """fpdf2's multi_cell(0, height, text): full width, wrapped, one line per `height` mm."""
        self.set_font(style, size)
        for line in self.wrap(text, self.width):
            self.break_if_needed(height)
            self.cell_text(self.LEFT, self.y, self.width, height, line)
            self.y += height

    def row(
        self,
        cells: Sequence[tuple[str, float, str]],
        *,
        style: str,
        size: float,
        line_height: float,
        rule: bool = True,
        on_new_page: Sequence[tuple[str, float, str]] | None = None,
        on_new_page_style: str = "B",
    ) -> None:
        """One table row: each cell (text, width mm, "L"/"R") wrapped in its column, the row as tall
        as its tallest cell, moved whole to a new page when it does not fit (where the heading
        `on_new_page` is repeated), and a rule under it."""
        self.set_font(style, size)
        wrapped = [self.wrap(text, width) for text, width, _ in cells]
        count = max(len(lines) for lines in wrapped)
        page_lines = max(1, int((PAGE_HEIGHT - self.BOTTOM - self.TOP) // line_height) - 1)
        # a row taller than a page (a very long description) continues on the next pages
        for first in range(0, count, page_lines):
            lines_here = min(page_lines, count - first)
            height = lines_here * line_height
            if self.break_if_needed(height) and on_new_page is not None:
                self.rule(self.LEFT, self.TOP, self.LEFT + sum(w for _, w, _ in on_new_page))
                self.row(on_new_page, style=on_new_page_style, size=size, line_height=line_height, rule=rule)
                self.set_font(style, size)
            x = self.LEFT
            for lines, (_, width, align) in zip(wrapped, cells, strict=True):
                for index, line in enumerate(lines[first : first + lines_here]):
                    self.cell_text(x, self.y + index * line_height, width, line_height, line, align)
                x += width
            self.y += height
        if rule:
            self.rule(self.LEFT, self.y, self.LEFT + sum(w for _, w, _ in cells))

    def output(self, title: str, author: str, created: datetime) -> bytes:
        """The PDF file: catalog, pages, document information, fonts (subset, deflated), xref."""
        fonts = list(self.keys)  # in the order first used
        objects: list[bytes] = []  # object n is objects[n - 1]
        page_count = len(self.pages)
        first_font = 5
        first_page = first_font + 5 * len(fonts)
        page_refs = " ".join(f"{first_page + 2 * i} 0 R" for i in range(page_count))
        objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
        objects.append(f"<< /Type /Pages /Kids [{page_refs}] /Count {page_count} >>".encode())
        stamp = created.strftime("D:%Y%m%d%H%M%S") + "Z"
        objects.append(
            b"<< /Title "
            + _pdf_string(title)
            + b" /Author "
            + _pdf_string(author)
            + b" /Producer (usagebill) /CreationDate "
            + _pdf_string(stamp)
            + b" >>"
        )
        font_refs = " ".join(f"/{self.keys[font]} {first_font + 5 * i} 0 R" for i, font in enumerate(fonts))
        objects.append(f"<< /Font << {font_refs} >> /ProcSet [/PDF /Text] >>".encode())
        for index, font in enumerate(fonts):
            objects.extend(self._font_objects(font, first_font + 5 * index))
        for index, page in enumerate(self.pages):
            content = zlib.compress("\n".join(page.ops).encode("ascii"), COMPRESSION_LEVEL)
            objects.append(
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH * MM:.2f} {PAGE_HEIGHT * MM:.2f}] "
                f"/Resources 4 0 R /Contents {first_page + 2 * index + 1} 0 R >>".encode()
            )
            objects.append(_stream(content, b"/Filter /FlateDecode"))
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
        out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
        identifier = hashlib.md5(bytes(out), usedforsecurity=False).hexdigest().upper()
        out += (
            f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 3 0 R /ID [<{identifier}> <{identifier}>] >>\n"
            f"startxref\n{xref}\n%%EOF\n"
        ).encode()
        return bytes(out)

    def _font_objects(self, font: TrueTypeFont, number: int) -> list[bytes]:
        """Type 0 font, its CIDFontType2, descriptor, font program and ToUnicode CMap: objects
        number .. number + 4."""
        used = self.used[font]
        gids = sorted(used)
        name = f"{_tag(gids)}+{font.name}"
        scale = 1000 / font.units_per_em
        widths = " ".join(f"{gid} [{round(font.advances[gid] * scale)}]" for gid in gids)
        bbox = " ".join(str(round(v * scale)) for v in font.bbox)
        flags = 32 | (1 << 18 if font.bold else 0)  # Nonsymbolic; ForceBold for the bold face
        program = zlib.compress(font.subset(gids), COMPRESSION_LEVEL)
        cmap = _to_unicode(used)
        return [
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
            f"/DescendantFonts [{number + 1} 0 R] /ToUnicode {number + 4} 0 R >>".encode(),
            f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
            f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            f"/FontDescriptor {number + 2} 0 R /DW {round(font.advances[0] * scale)} /W [{widths}] "
            f"/CIDToGIDMap /Identity >>".encode(),
            f"<< /Type /FontDescriptor /FontName /{name} /Flags {flags} /FontBBox [{bbox}] "
            f"/ItalicAngle {font.italic_angle:g} /Ascent {round(font.ascent * scale)} "
            f"/Descent {round(font.descent * scale)} /CapHeight {round(font.cap_height * scale)} "
            f"/StemV {120 if font.bold else 80} /FontFile2 {number + 3} 0 R >>".encode(),
            _stream(program, b"/Filter /FlateDecode"),
            _stream(zlib.compress(cmap, COMPRESSION_LEVEL), b"/Filter /FlateDecode"),
        ]


def _stream(data: bytes, extra: bytes) -> bytes:
    return b"<< /Length " + str(len(data)).encode() + b" " + extra + b" >>\nstream\n" + data + b"\nendstream"


def _to_unicode(used: dict[int, str]) -> bytes:
    """A ToUnicode CMap (ISO 32000-1 9.10.3; Adobe technical note #5411): glyph id -> UTF-16BE,
    in bfchar blocks of at most 100 entries."""
    entries = [f"<{gid:04X}> <{_unicode_hex(ch)}>" for gid, ch in sorted(used.items())]
    blocks = []
    for start in range(0, len(entries), 100):
        chunk = entries[start : start + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")
