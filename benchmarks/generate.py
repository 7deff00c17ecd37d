"""Generate a bare repository of a given size with ``git fast-import``.

The history is linear on ``main`` with a few side branches, annotated tags and GitHub-style
``refs/pull/*`` refs, so it looks like a real project to both epicstar and plain git.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

_WORDS = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "chi",
    "psi",
    "omega",
    "mirror",
    "branch",
    "tag",
    "commit",
    "tree",
    "blob",
    "pack",
    "index",
)


def _text(rng: random.Random, lines: int) -> bytes:
    return "".join(
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 12))) + "\n" for _ in range(lines)
    ).encode()


def generate(path: Path, *, objects: int, seed: int = 7) -> int:
    """Create a bare repository at ``path`` with at least ``objects`` objects; return the count.

    Each commit changes three files in a two-level directory tree, which writes about ten
    objects (one commit, three blobs, up to six trees).
    """
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(path)], check=True)
    commits = max(10, objects // 11)
    process = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=path,
        stdin=subprocess.PIPE,
    )
    assert process.stdin is not None
    write = process.stdin.write
    when = 1_600_000_000
    for number in range(1, commits + 1):
        when += rng.randint(60, 7200)
        message = f"change {number}\n".encode()
        write(b"commit refs/heads/main\n")
        write(f"mark :{number}\n".encode())
        write(f"committer Bench <bench@example.com> {when} +0000\n".encode())
        write(f"data {len(message)}\n".encode() + message)
        if number > 1:
            write(f"from :{number - 1}\n".encode())
        for _ in range(3):
            name = f"src/d{rng.randrange(30)}/e{rng.randrange(20)}/f{rng.randrange(8)}.txt"
            content = _text(rng, rng.randint(5, 40))
            write(f"M 100644 inline {name}\n".encode())
            write(f"data {len(content)}\n".encode() + content)
        write(b"\n")
        if number % max(1, commits // 40) == 0:
            tag_message = f"release {number}\n".encode()
            write(f"tag v{number}\nfrom :{number}\n".encode())
            write(f"tagger Bench <bench@example.com> {when} +0000\n".encode())
            write(f"data {len(tag_message)}\n".encode() + tag_message)
        if number % max(1, commits // 10) == 0:
            write(f"reset refs/heads/release-{number}\nfrom :{number}\n\n".encode())
        if number % max(1, commits // 200) == 0:
            write(f"reset refs/pull/{number}/head\nfrom :{number}\n\n".encode())
    write(b"done\n")
    process.stdin.close()
    if process.wait() != 0:
        raise RuntimeError("git fast-import failed")
    return count_objects(path)


def count_objects(path: Path) -> int:
    out = subprocess.run(
        ["git", "count-objects", "-v"], cwd=path, check=True, capture_output=True, text=True
    ).stdout
    counts = dict(line.split(": ", 1) for line in out.splitlines())
    return int(counts["count"]) + int(counts["in-pack"])
