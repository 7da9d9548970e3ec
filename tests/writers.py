"""Real files written by real writers (reportlab, python-docx), for the reader tests."""
from __future__ import annotations

import zipfile
from pathlib import Path


def write_pdf(path: Path, pages: list[list[str]], title: str = "", heading: str = "", encrypt: str | None = None) -> Path:
    """One list of paragraphs per page, with an explicit page break between them."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story = [Paragraph(heading, styles["Title"])] if heading else []
    for n, paragraphs in enumerate(pages):
        if n:
            story.append(PageBreak())
        story += [Paragraph(p, styles["BodyText"]) for p in paragraphs]
    SimpleDocTemplate(str(path), pagesize=A4, title=title, encrypt=encrypt).build(story)
    return path


def write_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """Pages with only drawings on them: what a scan without OCR looks like to a text extractor."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    for _ in range(pages):
        c.rect(50, 50, 400, 600, fill=1)
        c.showPage()
    c.save()
    return path


def write_docx(path: Path, title: str, sections: list[tuple[str, list[str]]], table: list[list[str]] | None = None,
               bullets: list[str] | None = None) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.add_heading(title, level=1)
    for heading, paragraphs in sections:
        d.add_heading(heading, level=2)
        for p in paragraphs:
            d.add_paragraph(p)
    if bullets:
        for b in bullets:
            d.add_paragraph(b, style="List Bullet")
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                t.cell(r, c).text = cell
    d.save(str(path))
    return path


def html_page(title: str, h1: str, sections: list[tuple[str, list[str]]]) -> str:
    body = "".join(f"<h2>{h}</h2>" + "".join(f"<p>{p}</p>" for p in ps) for h, ps in sections)
    return f"""<!doctype html><html><head><title>{title} | Example News</title>
<script>window.track = function() {{ document.title = 'tracked'; }}; track();</script>
<style>nav {{ color: red }}</style></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a> <a href="/login">Sign in</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies or manage preferences.</div>
<aside class="related"><h3>Related articles</h3><ul><li><a href="/a">Ten gadgets for summer</a></li><li><a href="/b">Celebrity chef opens bistro</a></li></ul></aside>
<article><h1>{h1}</h1>{body}</article>
<footer>Copyright 2026 Example News Ltd. All rights reserved. <a href="/privacy">Privacy policy</a> <a href="/terms">Terms</a></footer>
<script>console.log('footer script');</script></body></html>"""


def write_zip_bomb_docx(path: Path, inflated_mb: int = 300) -> Path:
    """A .docx whose document.xml inflates to hundreds of MB from a few hundred KB."""
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            for _ in range(inflated_mb):
                f.write(chunk)
    return path
