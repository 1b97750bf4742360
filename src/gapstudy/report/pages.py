"""HTML pages of the report's tables: a title, a caption and the table."""

from __future__ import annotations

import html

import pandas as pd

TABLE_STYLE = """
<style>
body { font-family: sans-serif; font-size: 13px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f0f0f0; }
caption { text-align: left; font-weight: bold; margin-bottom: 6px; }
pre { background: #f7f7f7; padding: 6px; }
</style>
"""


def html_page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"{TABLE_STYLE}</head><body>\n{body}\n</body></html>\n"
    )


def html_table(df: pd.DataFrame, title: str, caption: str = "") -> str:
    body = df.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="n/a", border=0)
    text = f"<h3>{html.escape(title)}</h3>"
    if caption:
        text += f"<p>{html.escape(caption)}</p>"
    return html_page(title, text + body)
