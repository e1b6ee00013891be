"""The repository's docs are self-contained: nothing points to a file it does not have.

Every text file of the repository (tracked, or new and not ignored) is scanned for
- pointers to notes kept outside the repository (a ``research`` or ``shared`` folder, "DESIGN §N");
- file references that name no file here: ``*.md`` names, relative markdown links, and paths
  into the repository's own folders (``docs/...``, ``tests/support/...``);
- section references (``relay/PROTOCOL.md §11``, ``docs/sandstorm.md §API tokens``) to a section
  the named markdown file does not have: a number must be a numbered heading; a name (up to the
  punctuation that ends it) must begin a heading, or a heading must begin it, at a word's end.

A name resolves against the referring file's folder, then the repository's root, then the one
file whose path ends with it, if there is exactly one. Paths git ignores are where tools write
their output, and count as present. URLs are not checked, and neither are paths in other
repositories, written ``owner/repository: path``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()

# The repository's own top-level folders: a path starting with one of them must exist.
LOCAL_FOLDERS = ("app", "bench", "common", "docs", "godot", "relay", "tests", "uro-shim", ".sandstorm", ".ci")

OUTSIDE_NOTES = re.compile(
    r"(?<![\w-])research/"  # the background notes' folder
    r"|\.\./shared\b|(?<![\w-])shared/research"  # the folder beside the checkout
    r"|\bDESIGN(?:\.md)?\s*§"  # the design brief's sections
    r"|\bDESIGN\.md\b"
)
URL = re.compile(r"<?\b(?:https?|file|wss?)://[^\s>)`\"']*>?")
OTHER_REPOSITORY = re.compile(r"\b[\w.-]+/[\w.-]+:\s?[\w./+-]+")  # owner/name: path (not local)
MARKDOWN_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
MD_NAME = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w.-]+\.md)\b")
LOCAL_PATH = re.compile(
    r"(?<![\w./-])((?:" + "|".join(re.escape(f) for f in LOCAL_FOLDERS) + r")/[\w./-]*[\w/])"
)
SECTION_REF = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w.-]+\.md)`?\s*§\s*([^\n]*)")
MORE_SECTIONS = re.compile(r"^[^§\n]*?,\s*(?:and\s+)?§\s*([^\n]*)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?(?:\s+|$)(.*)$")
BINARY_SUFFIXES = {".png", ".svg", ".scn", ".pck", ".wasm", ".zip", ".ico", ".json"}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


@cache
def repository_files() -> tuple[str, ...]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return tuple(sorted(p for p in listed.split("\0") if p and (ROOT / p).is_file()))


def git_ignores(rel: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", rel], cwd=ROOT).returncode == 0


def text_files(files: Iterable[str]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for rel in files:
        if Path(rel).suffix in BINARY_SUFFIXES:
            continue
        data = (ROOT / rel).read_bytes()
        if b"\0" in data:
            continue
        try:
            texts[rel] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


class Repository:
    """The files a reference may name, and the sections of the markdown ones."""

    def __init__(
        self, files: Iterable[str], texts: Mapping[str, str], ignored: Callable[[str], bool] | None = None
    ) -> None:
        self.files = set(files)
        self.folders = {str(parent) for f in self.files for parent in Path(f).parents} - {"."}
        self.texts = texts
        self.ignored = ignored or (lambda rel: False)

    def exists(self, rel: str) -> bool:
        rel = rel.rstrip("/")
        return rel in self.files or rel in self.folders

    def resolve(self, referrer: str, name: str, *, by_ending: bool = True) -> str | None:
        name = name.strip()
        here = Path(referrer).parent
        for candidate in (here / name, Path(name)):
            normal = _normalize(candidate)
            if normal is not None and (
                self.exists(normal) or self.ignored(normal) or self.ignored(normal + "/")
            ):
                return normal
        if by_ending and not name.startswith("."):
            ending = [f for f in self.files if f == name or f.endswith("/" + name)]
            if len(ending) == 1:
                return ending[0]
        return None

    def headings(self, rel: str) -> list[tuple[str | None, str]]:
        """(number, name) of every heading outside code blocks."""
        found: list[tuple[str | None, str]] = []
        fenced = False
        for line in self.texts.get(rel, "").splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            match = None if fenced else HEADING.match(line)
            if match:
                text = match.group(1).replace("`", "")
                numbered = NUMBERED.match(text)
                if numbered:
                    found.append((numbered.group(1), numbered.group(2)))
                found.append((None, text))
        return found

    def has_section(self, rel: str, ref: str) -> bool:
        number = re.match(r"\d+(?:\.\d+)*", ref)
        if number:
            return any(n == number.group(0) for n, _ in self.headings(rel))
        for _, heading in self.headings(rel):
            for name in {heading, re.sub(r"\s*\(.*\)$", "", heading)}:
                if _begins_with(name, ref) or _begins_with(ref, name):
                    return True
        return False


def _normalize(path: Path) -> str | None:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _begins_with(text: str, start: str) -> bool:
    """True when text begins with start and a word ends there."""
    if not start or not text.lower().startswith(start.lower()):
        return False
    return len(text) == len(start) or not text[len(start)].isalnum()


def section_name(ref: str) -> str:
    """What follows a §, up to the punctuation that ends the reference."""
    return re.split(r"[),.;:]", ref.replace("`", ""), maxsplit=1)[0].strip()


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def _without_foreign_paths(text: str) -> str:
    """URLs and other repositories' paths blanked out, keeping offsets and lines."""
    text = URL.sub(_blank, text)

    def other(match: re.Match[str]) -> str:
        owner = match.group(0).split("/", 1)[0]
        return match.group(0) if owner in LOCAL_FOLDERS else _blank(match)

    return OTHER_REPOSITORY.sub(other, text)


def problems_in(rel: str, text: str, repo: Repository) -> list[Problem]:
    found: list[Problem] = []
    for match in OUTSIDE_NOTES.finditer(URL.sub(_blank, text)):
        found.append(Problem(rel, _line_of(text, match.start()), f"points outside: {match.group(0)!r}"))
    local = _without_foreign_paths(text)
    if rel.endswith(".md"):
        for match in MARKDOWN_LINK.finditer(local):
            target = match.group(1).split("#", 1)[0]
            if target and not re.match(r"[a-z]+:", target) and not repo.resolve(rel, target, by_ending=False):
                found.append(Problem(rel, _line_of(text, match.start()), f"link to a missing file: {target}"))
        local = MARKDOWN_LINK.sub(_blank, local)  # checked: not again as names
    seen: set[tuple[int, str]] = set()
    for pattern in (MD_NAME, LOCAL_PATH):
        for match in pattern.finditer(local):
            name = match.group(1)
            if (match.start(), name) not in seen and not repo.resolve(rel, name):
                seen.add((match.start(), name))
                found.append(Problem(rel, _line_of(text, match.start()), f"no such file: {name}"))
    for match in SECTION_REF.finditer(local):
        target = repo.resolve(rel, match.group(1))
        if target is None or not target.endswith(".md"):
            continue  # a missing file is reported above
        refs = [match.group(2)]
        rest = match.group(2)
        while more := MORE_SECTIONS.match(rest):
            refs.append(more.group(1))
            rest = more.group(1)
        for ref in map(section_name, refs):
            if not repo.has_section(target, ref):
                line = _line_of(text, match.start())
                found.append(Problem(rel, line, f"{target} has no section §{ref}"))
    return found


def test_the_repository_points_only_to_what_it_has() -> None:
    files = repository_files()
    texts = text_files(files)
    repo = Repository(files, texts, git_ignores)
    found = [p for rel, text in texts.items() if rel != THIS for p in problems_in(rel, text, repo)]
    assert not found, "\n".join(map(str, found))


def test_the_scan_finds_each_kind_of_broken_reference() -> None:
    """The check above could fail: each kind of bad reference is caught, and good ones are not."""
    texts = {
        "docs/guide.md": "# Guide\n\n## 1. Start\n\n## API tokens and webkeys (`x`)\n",
        "pkg/mod.py": "",
        "pkg/NOTES.md": "# Notes\n",
    }
    repo = Repository(texts, texts)

    def problems(text: str, rel: str = "pkg/mod.py") -> list[str]:
        return [p.what for p in problems_in(rel, text, repo)]

    outside = "/".join(("..", "shared", "x.md"))  # spelt in pieces so the scan of this file passes
    assert problems(f"see {outside}")
    assert problems("see " + "research/" + "uro-api.md")
    assert problems("as " + "DESIGN" + " §3 says")
    assert problems("docs/missing.md") == ["no such file: docs/missing.md"]
    assert problems("see tests/nowhere/helper.py") == ["no such file: tests/nowhere/helper.py"]
    assert problems("[guide](../docs/gone.md)", rel="pkg/NOTES.md") == [
        "link to a missing file: ../docs/gone.md"
    ]
    assert problems("docs/guide.md §2") == ["docs/guide.md has no section §2"]
    assert problems("docs/guide.md §API keys") == ["docs/guide.md has no section §API keys"]
    assert problems("(docs/guide.md §1, §Gone)") == ["docs/guide.md has no section §Gone"]

    assert not problems("docs/guide.md §1 and `docs/guide.md` §API tokens, and NOTES.md")
    assert not problems("(guide.md §API tokens and webkeys)")  # the one file whose path ends so
    assert not problems("[guide](../docs/guide.md#start)", rel="pkg/NOTES.md")
    assert not problems("https://example.org/research/docs/x.md and owner/repo: docs/y.md")
