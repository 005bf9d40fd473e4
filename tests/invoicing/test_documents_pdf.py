"""The fixed-layout PDF writer (usagebill.invoices.pdf) behind documents.render_pdf: the text a
reader extracts (pdftotext, poppler), pages, the embedded font subset, the fpdf2 fallback."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.invoicing.test_documents_render import sample
from usagebill.invoices import documents
from usagebill.invoices.documents import Document, Line, Party, TaxRow, TierRow
from usagebill.invoices.pdf import TrueTypeFont

DEJAVU = all(path.exists() for path in documents.UNICODE_FONTS.values())
POPPLER = bool(shutil.which("pdftotext") and shutil.which("pdfinfo"))
pytestmark = pytest.mark.skipif(
    not DEJAVU or not POPPLER, reason="DejaVu fonts or poppler-utils missing: scripts/ensure-system-deps.sh"
)


def invoice(currency: str, buyer: str, lines: list[Line], total: str) -> Document:
    """test_documents_render's sample invoice with other lines, currency and buyer; no tax."""
    return replace(
        sample(),
        document_id="inv_t",
        number="UB-2026-000777",
        currency=currency,
        buyer=Party(buyer, ["Kifisias 44", "151 25 Marousi", "GR"], "EL123456789", None),
        lines=lines,
        taxes=[TaxRow("VAT 0%", total, "0")],
        subtotal=total,
        discount_total="0",
        taxable_amount=total,
        tax_total="0",
        total=total,
        credits_applied="0",
        amount_due=total,
        notes=[],
    )


def pdftotext(path: Path, *args: str) -> str:
    """The text poppler extracts; poppler prints any syntax error it meets (cross-reference table,
    stream lengths, fonts) on stderr, so that must be empty: the file is well formed."""
    command = ["pdftotext", "-layout", *args, str(path), "-"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert result.stderr == "", result.stderr
    return result.stdout


def pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    assert match, info
    return int(match.group(1))


def test_non_latin_names_and_currency_symbols_are_extractable(tmp_path: Path) -> None:
    # Greek, Cyrillic and Armenian names and the euro, yen and pound signs are all in DejaVu Sans:
    # the writer prints them (pdf_bytes is not None), and the ToUnicode map gives them back
    lines = [
        Line(
            1,
            "Вычисления GPU – £ и €",
            "2026-05-01 to 2026-05-31",
            "1,000",
            "27",
            "27,000",
            "VAT 0%",
            "0%",
        ),
        Line(2, "Երևան storage ¥", "2026-05-01 to 2026-05-31", "2", "1", "2", "VAT 0%", "0%"),
    ]
    document = invoice("JPY", "Δέλτα Αναλυτική ΑΕ", lines, "27,002")
    document.seller = Party(
        "Société Ωmega SAS", ["12 rue de la Paix", "75002 Paris", "FR"], "FR40123456789", None
    )
    data = documents.pdf_bytes(document)
    assert data is not None and data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    path = tmp_path / "greek.pdf"
    documents.render_pdf(document, path)
    assert path.read_bytes() == data
    text = pdftotext(path)
    for expected in (
        "Δέλτα Αναλυτική ΑΕ",
        "Вычисления GPU – £ и €",
        "Երևան storage ¥",
        "Amount JPY",
        # JPY has no minor unit (ISO 4217): 1,000 x 27 + 2 x 1 = 27,002 yen
        "27,002 JPY",
        "VAT / tax id: EL123456789",
    ):
        assert expected in text, expected
    assert pages(path) == 1
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Title:\s+Invoice UB-2026-000777$", info, re.MULTILINE), info
    # a non-ASCII document information string is UTF-16BE with a byte order mark (ISO 32000-1 7.9.2.2)
    assert re.search(r"^Author:\s+Société Ωmega SAS$", info, re.MULTILINE), info
    # a re-render gives the same bytes (fixed creation date, deterministic subset tag and ids)
    assert documents.pdf_bytes(document) == data


def test_a_200_line_invoice_spans_pages_with_every_line_and_the_heading_repeated(tmp_path: Path) -> None:
    # 200 lines of 0.50 EUR each, every 10th with a 2-row tier split: 200 x 0.50 = 100.00 EUR
    lines = []
    for n in range(1, 201):
        tiers = (
            [TierRow("Tier 1", "5", "0.06", "0.30"), TierRow("Tier 2", "5", "0.04", "0.20")]
            if n % 10 == 0
            else []
        )
        lines.append(
            Line(
                n,
                f"API calls region-{n:03d}",
                "2026-05-01 to 2026-05-31",
                "10",
                "0.05",
                "0.50",
                "VAT 0%",
                "0%",
                tiers,
            )
        )
    document = invoice("EUR", "Łódź Vision sp. z o.o.", lines, "100.00")
    path = tmp_path / "long.pdf"
    documents.render_pdf(document, path)
    count = pages(path)
    # 220 table rows of 4.5 mm (200 lines + 20 tier rows) = 990 mm of table alone: more than 3
    # A4 pages of 272 mm usable height, so at least 4 pages
    assert count >= 4
    text = pdftotext(path)
    for n in range(1, 201):
        assert len(re.findall(rf"\bAPI calls region-{n:03d}\b", text)) == 1, n
    assert text.count("Tier 1") == 20 and text.count("Tier 2") == 20
    for page in range(1, count + 1):
        on_page = pdftotext(path, "-f", str(page), "-l", str(page))
        if "API calls region" in on_page:  # every page with lines starts them under the heading
            assert "Description" in on_page and "Amount EUR" in on_page, page
    last = pdftotext(path, "-f", str(count), "-l", str(count))
    assert "100.00 EUR" in last and "Amount due" in last and "Payment terms: 30 days" in last
    first = pdftotext(path, "-f", "1", "-l", "1")
    assert "Łódź Vision sp. z o.o." in first and "Amount due" not in first


def test_long_text_wraps_inside_its_column(tmp_path: Path) -> None:
    # a 300-character description and a 120-character word: nothing is cut, nothing runs into the
    # next column (pdftotext -layout keeps the column's other cells on separate text runs)
    word = "x" * 120
    description = " ".join(["GPU hours for the training cluster"] * 8) + " " + word
    document = invoice(
        "EUR",
        "Müller & Söhne KG",
        [Line(1, description, "2026-05-01 to 2026-05-31", "1", "1", "1.00", "VAT 0%", "0%")],
        "1.00",
    )
    path = tmp_path / "wrap.pdf"
    documents.render_pdf(document, path)
    raw = pdftotext(path, "-raw")
    # the phrase is broken across lines: count its words (each 8 times, nothing lost)
    for word_of_phrase in ("hours", "training", "cluster"):  # ("GPU" is also in the seller name)
        assert len(re.findall(rf"\b{word_of_phrase}\b", raw)) == 8, word_of_phrase
    assert "".join(re.findall(r"x{2,}", raw)) == word  # the long word, broken across lines, all there


def test_the_embedded_font_is_a_valid_subset_with_the_original_outlines() -> None:
    from fontTools import ttLib

    path = documents.UNICODE_FONTS[""]
    font = TrueTypeFont(path, path.stem)
    original = ttLib.TTFont(path)
    cmap = original.getBestCmap()
    used = "Aé€Ж"
    gids = [font.glyph_of[ch] for ch in used]
    data = font.subset(gids)
    subset = ttLib.TTFont(io.BytesIO(data), checkChecksums=2)  # raises on a wrong table checksum
    assert set(subset.keys()) - {"GlyphOrder"} <= {
        "cvt ",
        "fpgm",
        "glyf",
        "head",
        "hhea",
        "hmtx",
        "loca",
        "maxp",
        "prep",
    }
    assert subset["maxp"].numGlyphs == original["maxp"].numGlyphs  # glyph ids are kept
    order = original.getGlyphOrder()
    names = subset.getGlyphOrder()  # no "post" table: the subset's names are glyph00036...

    def kept(name: str) -> str:  # the subset's name of the original glyph `name` (same glyph id)
        return names[order.index(name)]

    composites = 0
    for ch in used:
        name = cmap[ord(ch)]
        glyph, source = subset["glyf"][kept(name)], original["glyf"][name]
        assert glyph.numberOfContours == source.numberOfContours, ch
        if source.numberOfContours > 0:
            assert list(glyph.coordinates) == list(source.coordinates), ch
        else:  # a composite glyph: its components are kept too
            composites += 1
            for component in source.components:
                assert subset["glyf"][kept(component.glyphName)].numberOfContours != 0, component.glyphName
        assert subset["hmtx"][kept(name)] == original["hmtx"][name], ch
    assert composites >= 1  # é is built from e + acute in DejaVu Sans: the component path is tested
    assert subset["glyf"][kept(cmap[ord("Z")])].numberOfContours == 0  # not used: empty
    # head.checkSumAdjustment: the whole file sums to 0xB1B0AFBA (OpenType spec, "head")
    padded = data + b"\0" * (-len(data) % 4)
    total = sum(int.from_bytes(padded[i : i + 4], "big") for i in range(0, len(padded), 4)) & 0xFFFFFFFF
    assert total == 0xB1B0AFBA


@pytest.mark.skipif(
    not documents.FALLBACK_FONTS[0].exists(),
    reason="fonts-droid-fallback missing: scripts/ensure-system-deps.sh",
)
def test_cjk_characters_print_in_the_fallback_font(tmp_path: Path) -> None:
    # DejaVu Sans has no CJK glyphs: those characters print in Droid Sans Fallback, the rest of the
    # same line in DejaVu (one text run per font), and the text extracts in order
    document = invoice(
        "JPY", "株式会社テスト Ωmega", [Line(1, "GPU 計算時間 – €", "", "1", "1", "1", "VAT 0%", "0%")], "1"
    )
    data = documents.pdf_bytes(document)
    assert data is not None
    path = tmp_path / "cjk.pdf"
    path.write_bytes(data)
    text = pdftotext(path)
    assert "株式会社テスト Ωmega" in text and "GPU 計算時間 – €" in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    embedded = {line.split()[0].split("+")[1] for line in fonts.splitlines()[2:]}
    assert embedded == {"DejaVuSans", "DejaVuSans-Bold", "DroidSansFallbackFull"}, fonts
    # the fallback font is embedded once, though both regular and bold text would use it
    assert fonts.count("DroidSansFallbackFull") == 1


def test_characters_no_font_has_fall_back_to_fpdf2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tibetan (U+0F00) is in neither DejaVu Sans nor Droid Sans Fallback: the writer declines
    # (None) and fpdf2 renders the document (and, as it always did, leaves out what it has no glyph for)
    document = invoice(
        "EUR", "Lhasa \u0f00 Ltd", [Line(1, "GPU", "", "1", "1", "1.00", "VAT 0%", "0%")], "1.00"
    )
    assert documents.pdf_bytes(document) is None
    calls: list[str] = []
    real = documents.render_pdf_fpdf2
    monkeypatch.setattr(documents, "render_pdf_fpdf2", lambda d, p: (calls.append(d.number), real(d, p)))
    documents.render_pdf(document, tmp_path / "tibetan.pdf")
    text = pdftotext(tmp_path / "tibetan.pdf")
    assert calls == ["UB-2026-000777"] and "Invoice UB-2026-000777" in text and "Lhasa" in text


def test_control_characters_print_as_spaces() -> None:
    document = invoice("EUR", "Tab\tCorp\x07", [Line(1, "GPU", "", "1", "1", "1.00", "VAT 0%", "0%")], "1.00")
    assert documents.pdf_bytes(document) is not None


def test_an_unusable_fallback_font_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a fallback that is not a font (or is missing) is skipped with a message; a character only it
    # could print sends the document to fpdf2 instead of failing the run
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    monkeypatch.setattr(documents, "FALLBACK_FONTS", (broken, tmp_path / "missing.ttf"))
    document = invoice("JPY", "株式会社テスト", [Line(1, "GPU", "", "1", "1", "1", "VAT 0%", "0%")], "1")
    assert documents.pdf_bytes(document) is None
    latin = invoice(
        "EUR", "Müller & Söhne KG", [Line(1, "GPU", "", "1", "1", "1.00", "VAT 0%", "0%")], "1.00"
    )
    assert documents.pdf_bytes(latin) is not None
