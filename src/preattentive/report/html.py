"""One self-contained HTML page: sections of headed figures (embedded base64 PNG) and tables, all text escaped.

Other rooms contribute sections as :class:`Section` records (``report.physiology.sections(DIR)`` returns a list of
them); :func:`render_page` turns sections into the page and never trusts any string: every title, caption, note
and table cell goes through :func:`html.escape`.

Example
-------
>>> sec = Section("Psychometric curves", question="Where does each model fall off?",
...               figures=[FigureItem("psychometric", fig, "Accuracy vs level (Wilson 95 % CIs).")])  # doctest: +SKIP
>>> page = render_page("My study", [sec])  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class FigureItem:
    """A figure with the file stem it is saved under (``figures/<name>.png|svg``) and its caption."""

    name: str  # file stem, e.g. "fg_modulation" (letters, digits, - and _)
    figure: Any  # a matplotlib Figure, or PNG bytes (e.g. a preview grid written by another room)
    caption: str = ""  # what is plotted, with n and the CI method


@dataclass
class TableItem:
    """A table shown as HTML (at most ``max_rows`` rows; the full table is written as CSV)."""

    name: str  # file stem for the CSV (tables/<name>.csv)
    table: pd.DataFrame
    caption: str = ""
    max_rows: int = 60  # 0 = written as CSV only, the page links to it
    floatfmt: str = "{:.3f}"


@dataclass
class Section:
    """A headed part of the page: the question it answers, then text, figures, tables and notes."""

    title: str
    question: str = ""  # one sentence: what this section answers
    text: str = ""  # a short paragraph (plain text, escaped)
    figures: list[FigureItem] = field(default_factory=list)
    tables: list[TableItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # visible "not built / left out" notes
    id: str = ""  # anchor; derived from the title when empty
    gallery: bool = False  # lay the figures out side by side (e.g. one stimulus strip per family)
    items: list[tuple[str, str]] = field(default_factory=list)  # (sentence, "#anchor" or "") as a linked list


def figure_png(fig: Any, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def _anchor(s: Section) -> str:
    return s.id or "".join(c if c.isalnum() else "-" for c in s.title.lower()).strip("-")


def _table_html(t: TableItem) -> str:
    if t.max_rows <= 0:  # CSV only: a pointer instead of the table
        return (f'<p class="more">{html.escape(t.caption)} Full table: tables/{html.escape(t.name)}.csv '
                f"({len(t.table)} rows).</p>")
    df = t.table.head(t.max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for r in df.itertuples(index=False):
        cells = []
        for v in r:
            if isinstance(v, float):
                txt, cls = ("–" if v != v else t.floatfmt.format(v)), ' class="num"'
            elif isinstance(v, (int,)) and not isinstance(v, bool):
                txt, cls = str(v), ' class="num"'
            else:
                txt, cls = str(v), ""
            cells.append(f"<td{cls}>{html.escape(txt)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (f'<p class="more">showing {len(df)} of {len(t.table)} rows; all in tables/{html.escape(t.name)}.csv</p>'
            if len(t.table) > len(df) else "")
    cap = f"<figcaption>{html.escape(t.caption)}</figcaption>" if t.caption else ""
    return (f'<figure class="table">{cap}<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{more}</figure>')


def render_section(s: Section, pngs: dict[str, bytes]) -> str:
    parts = [f'<section id="{html.escape(_anchor(s))}"><h2>{html.escape(s.title)}</h2>']
    if s.question:
        parts.append(f'<p class="question">{html.escape(s.question)}</p>')
    if s.text:
        parts += [f"<p>{html.escape(p)}</p>" for p in s.text.split("\n\n")]
    if s.items:
        lis = [f"<li>{html.escape(text)}" + (f' <a href="{html.escape(href)}">(panel)</a>' if href else "") + "</li>"
               for text, href in s.items]
        parts.append(f'<ul class="findings">{"".join(lis)}</ul>')
    for note in s.notes:
        parts.append(f'<div class="note"><strong>Note.</strong> {html.escape(note)}</div>')
    if s.gallery and s.figures:
        parts.append('<div class="gallery">')
    for f in s.figures:
        b64 = base64.b64encode(pngs[f.name]).decode("ascii")
        parts.append(f'<figure><img alt="{html.escape(f.caption or f.name)}" src="data:image/png;base64,{b64}">'
                     f"<figcaption>{html.escape(f.caption)}</figcaption></figure>")
    if s.gallery and s.figures:
        parts.append("</div>")
    parts += [_table_html(t) for t in s.tables]
    parts.append("</section>")
    return "\n".join(parts)


CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d2330;background:#f6f7f9;margin:0}
main{max-width:1180px;margin:0 auto;padding:28px 36px 60px;background:#fff;box-shadow:0 0 12px rgba(0,0,0,.06)}
h1{font-size:28px;margin:8px 0 4px} h2{font-size:21px;margin:38px 0 6px;padding-top:10px;border-top:2px solid #e3e6eb}
.sub{color:#5b6473;margin:0 0 12px} .question{font-style:italic;color:#2b5d8a;font-size:16px;margin:2px 0 12px}
nav{background:#f0f3f7;padding:10px 14px;border-radius:6px;font-size:14px} nav a{margin-right:16px;color:#2b5d8a}
figure{margin:14px 0 22px} img{max-width:100%;height:auto;border:1px solid #eceef2}
figcaption{font-size:13.5px;color:#4a5260;margin:6px 2px;line-height:1.45}
.note{background:#fff7e0;border-left:4px solid #e0a800;padding:8px 12px;margin:10px 0;font-size:14px}
table{border-collapse:collapse;font-size:13px;margin-top:6px} th,td{padding:4px 10px;border-bottom:1px solid #e6e8ec}
th{background:#f3f5f8;text-align:left;position:sticky;top:0} td{white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.scroll{max-height:560px;overflow:auto} .more{font-size:12px;color:#6b7280} code{background:#f3f5f8;padding:1px 4px}
footer{margin-top:40px;font-size:12px;color:#6b7280}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:10px 18px;align-items:start}
.gallery figure{margin:6px 0}
ul.findings{padding-left:20px;line-height:1.5;font-size:14.5px} ul.findings li{margin:5px 0}
ul.findings a{color:#2b5d8a;font-size:12.5px}
"""


def render_page(title: str, sections: list[Section], *, subtitle: str = "", footer: str = "",
                pngs: dict[str, bytes] | None = None) -> str:
    """The whole page as a string; ``pngs`` maps figure names to PNG bytes (rendered here when missing)."""
    pngs = dict(pngs or {})
    for s in sections:
        for f in s.figures:
            if f.name not in pngs:
                pngs[f.name] = f.figure if isinstance(f.figure, bytes) else figure_png(f.figure)
    nav = " ".join(f'<a href="#{html.escape(_anchor(s))}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(render_section(s, pngs) for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f'<body><main><h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)}</p>'
            f"<nav>{nav}</nav>\n{body}\n<footer>{html.escape(footer)}</footer></main></body></html>\n")
