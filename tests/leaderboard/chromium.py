"""Debian's Chromium for the browser tests: found, installed with apt, or unpacked from Debian.

In order: ``chromium`` on ``PATH`` (or ``CFL_TEST_CHROMIUM``); else, as root with a working
``apt-get``, ``apt-get install chromium``; else Debian's own packages (``chromium``,
``chromium-common`` and the shared libraries this image lacks), located with ``apt-cache show``,
fetched from deb.debian.org and unpacked with ``dpkg -x`` into ``~/.cache/cfl-test-chromium``
(run once; later runs reuse it). Returns the executable and the environment it needs, or the
reason it cannot be had (the browser tests then skip, saying why).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

__all__ = ["find_chromium"]

PACKAGES = (
    "chromium", "chromium-common", "libopenh264-7", "libdouble-conversion3",
    "libharfbuzz-subset0", "libpulse0", "libflac12", "libopus0", "libxnvctrl0", "libminizip1",
    "libogg0", "libsndfile1", "libasyncns0", "libvorbis0a", "libvorbisenc2", "libmpg123-0",
    "libmp3lame0",
)  # fmt: skip
MIRRORS = ("http://deb.debian.org/debian/", "http://deb.debian.org/debian-security/")
CACHE = Path(os.environ.get("CFL_TEST_CHROMIUM_CACHE", Path.home() / ".cache/cfl-test-chromium"))


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def _works(executable: str, env: dict[str, str]) -> bool:
    try:
        done = subprocess.run(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
             "data:text/html,<p>ok</p>"],
            capture_output=True, text=True, timeout=60, env=env, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "<p>ok</p>" in done.stdout


def _library_path(root: Path) -> str:
    folders = sorted({str(p.parent) for p in root.rglob("*.so*")})
    return ":".join(folders)


def _unpack_from_debian() -> tuple[str, dict[str, str]] | str:
    root = CACHE / "root"
    executable = root / "usr/lib/chromium/chromium"
    if not executable.exists():
        if shutil.which("apt-cache") is None or shutil.which("dpkg") is None:
            return "no chromium, and no apt-cache/dpkg to fetch Debian's"
        CACHE.mkdir(parents=True, exist_ok=True)
        for package in PACKAGES:
            shown = _run("apt-cache", "show", package).stdout
            filename = next(
                (ln.split(" ", 1)[1] for ln in shown.splitlines() if ln.startswith("Filename: ")),
                None,
            )
            if filename is None:
                return f"apt-cache knows no package {package!r}"
            deb = CACHE / f"{package}.deb"
            for mirror in MIRRORS:
                try:
                    urllib.request.urlretrieve(mirror + filename, deb)
                    break
                except OSError:
                    continue
            else:
                return f"cannot download {filename} from deb.debian.org"
            if _run("dpkg", "-x", str(deb), str(root)).returncode != 0:
                return f"dpkg -x failed on {deb}"
            deb.unlink()
    env = dict(os.environ, LD_LIBRARY_PATH=_library_path(root))
    return str(executable), env


def find_chromium() -> tuple[str, dict[str, str]] | str:
    """``(executable, environment)`` of a working Chromium, or why there is none."""
    env = dict(os.environ)
    found = os.environ.get("CFL_TEST_CHROMIUM") or shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        _run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", timeout=900)
        found = shutil.which("chromium")
    if found is not None and _works(found, env):
        return found, env
    unpacked = _unpack_from_debian()
    if isinstance(unpacked, str):
        return unpacked
    if not _works(*unpacked):
        return f"Debian's chromium unpacked in {CACHE} does not start"
    return unpacked
