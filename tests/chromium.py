"""Drive Debian's headless Chromium for page tests: rendered DOM, console messages, screenshots.

Each run gets a new empty profile and no background networking. Chromium writes every console
message (``console.*`` calls, uncaught exceptions, failed loads) to stderr as ``CONSOLE`` lines
with ``--enable-logging=stderr --v=0``; ``console_messages`` picks them out. A missing browser
fails the test (``tools/install-chromium.sh`` installs it; ``make test`` runs that).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
    # Only loopback resolves: a page that tried to reach anything else would log a failure.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]  # fmt: skip
_CONSOLE = re.compile(r":CONSOLE[:(]\d+\)?\] (.*)$")


@dataclass(frozen=True)
class Run:
    stdout: str
    stderr: str

    @property
    def console_messages(self) -> list[str]:
        return [m.group(1) for line in self.stderr.splitlines() if (m := _CONSOLE.search(line))]


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run tools/install-chromium.sh (make test does)")


def run(url: str, *args: str, timeout_s: float = 120) -> Run:
    require_chromium()
    with tempfile.TemporaryDirectory(prefix="chiso766-chromium-") as profile:
        done = subprocess.run(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True, timeout=timeout_s, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return Run(done.stdout.decode(), done.stderr.decode(errors="replace"))


def dump_dom(url: str, *args: str) -> Run:
    """The DOM after the page loaded (and scripts ran), on stdout."""
    return run(url, "--dump-dom", *args)


def screenshot(url: str, path: Path, width: int, height: int, scale: float = 1) -> Run:
    path.parent.mkdir(parents=True, exist_ok=True)
    return run(url, f"--screenshot={path}", f"--window-size={width},{height}",
               f"--force-device-scale-factor={scale}")  # fmt: skip


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class Elements(HTMLParser):
    """Every element as (tag, attributes, direct text), in document order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.all: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.all.append(element)
        if tag not in {"meta", "link", "br", "img", "input", "circle", "line", "rect", "path"}:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.all.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text += data

    def having(self, attribute: str) -> list[Element]:
        return [e for e in self.all if attribute in e.attrs]

    def with_class(self, tag: str, css: str) -> list[Element]:
        return [e for e in self.all if e.tag == tag and css in e.attrs.get("class", "").split()]
