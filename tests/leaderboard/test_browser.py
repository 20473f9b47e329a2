"""Browser tests: Playwright driving Debian's Chromium against a live server on 127.0.0.1.

The server runs in its own process on a free port (:mod:`tests.leaderboard.serve`) and is
stopped by its PID. Screenshots go to ``reports/test-artifacts/leaderboard/``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.leaderboard.chromium import find_chromium

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = (
    Path(os.environ.get("CFL_TEST_ARTIFACTS", REPO / "reports" / "test-artifacts")) / "leaderboard"
)

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chromium() -> tuple[str, dict[str, str]]:
    found = find_chromium()
    if isinstance(found, str):
        pytest.skip(f"no Chromium for the browser tests: {found}")
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = dict(os.environ, CFL_HOME=str(folder / "home"))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.leaderboard.serve", str(folder), str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    out = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"the live server did not start: {out[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def test_leaderboard_sort_submit_and_chat(
    chromium: tuple[str, dict[str, str]], server: str
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    executable, env = chromium
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, env=env, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(server + "/")
        page.screenshot(path=ARTIFACTS / "01-problems.png")
        page.click("text=lab-a")
        page.wait_for_selector("#board")
        assert "Hidden lab A" in page.content()
        page.click("a[data-sort=name]")
        page.click("a[data-sort=name]")  # second click: descending
        page.wait_for_url("**sort=name**order=desc**")
        names = page.locator("#board tbody tr td:nth-child(2)").all_inner_texts()
        assert names == sorted(names, reverse=True) and "zulu" in names[0]
        page.screenshot(path=ARTIFACTS / "02-sorted.png")

        page.goto(server + "/register")
        page.fill("input[name=name]", "browser-team")
        page.click("text=Get a token")
        token = page.inner_text("#token")
        page.goto(server + "/problems/lab-a/submit")
        page.fill("input[name=token]", token)
        page.fill("input[name=name]", "from-the-browser")
        page.select_option("select[name=strategy]", "random")
        page.click("#submit-form button")
        page.wait_for_selector("text=queued")
        page.screenshot(path=ARTIFACTS / "03-submitted.png")
        deadline = time.monotonic() + 30
        while True:
            page.goto(server + "/problems/lab-a")
            if page.locator("text=from-the-browser").count():
                break
            assert time.monotonic() < deadline, "the new row did not appear"
            time.sleep(0.5)
        page.screenshot(path=ARTIFACTS / "04-new-row.png")

        page.goto(server + "/chat")
        page.fill("input[name=message]", "list campaigns")
        page.click("#chat-form button")
        page.wait_for_selector("#reply")
        assert "campaign" in page.inner_text("#reply").lower()
        page.screenshot(path=ARTIFACTS / "05-chat.png")
        browser.close()
