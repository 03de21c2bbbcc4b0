"""CSV meant to be opened in a spreadsheet: every cell written so that no spreadsheet runs it as a formula."""
import csv
import io


def formula_safe(value) -> str:
    """A cell a spreadsheet won't run (OWASP CSV injection): text starting with = + - @ tab or CR gets a '."""
    text = "" if value is None else str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return text
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(header, rows) -> str:
    """A whole CSV document (CRLF line ends, as RFC 4180 has it), every cell through formula_safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([formula_safe(name) for name in header])
    writer.writerows([formula_safe(value) for value in row] for row in rows)
    return out.getvalue()
