#!/usr/bin/env python3
"""Loads report pages in headless Chromium and checks that every chart was laid out.

Each page carries a script that, at `#selfcheck`, writes the rendered size and mark count of every
`<figure class="chart">` into `<pre id="chart-check">` (Sources/Charts/HTMLReport.swift). Chromium's
`--dump-dom` prints the DOM after the script ran, so a chart that failed to parse or rendered with no size fails here.

    tools/check_report_html.py PAGE.html[:KIND,KIND...] ...   # e.g. report.html:scatter,bar,line,stacked-bar
"""
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_report_html: no chromium on PATH (make report-check installs Debian's chromium)")


def check(page: Path, kinds: list[str], browser: str) -> list[str]:
    url = page.resolve().as_uri() + "#selfcheck"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--virtual-time-budget=5000", "--window-size=1280,2000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return [f"{page}: chromium exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"]
    match = re.search(r'<pre id="chart-check">(.*?)</pre>', proc.stdout, re.S)
    if not match:
        return [f"{page}: no #chart-check in the rendered DOM (the page's self-check did not run)"]
    charts = json.loads(html.unescape(match.group(1)))["charts"]
    errors = []
    if not charts:
        errors.append(f"{page}: no charts")
    for i, c in enumerate(charts):
        if c["width"] < 100 or c["height"] < 80 or c["marks"] < 1:
            errors.append(f"{page}: chart {i} ({c['kind']}, '{c['title']}') rendered {c['width']}×{c['height']} px with {c['marks']} marks")
    found = {c["kind"] for c in charts}
    for k in kinds:
        if k not in found:
            errors.append(f"{page}: no {k} chart (found {sorted(found)})")
    print(f"{page}: {len(charts)} charts laid out ({', '.join(sorted(found))})")
    return errors


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    browser = chromium()
    errors = []
    for arg in sys.argv[1:]:
        path, _, kinds = arg.partition(":")
        errors += check(Path(path), [k for k in kinds.split(",") if k], browser)
    for e in errors:
        print("FAIL", e, file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
