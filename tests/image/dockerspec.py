"""Dockerfile.worker and .dockerignore read the way Docker reads them, for tests on machines without Docker."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile.worker"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Instruction:
    """One Dockerfile instruction: keyword, its `--flags`, and the rest of the line."""

    keyword: str
    flags: list[str]
    args: str
    line: int


@dataclass
class Dockerfile:
    """The instructions of the last build stage, with ARG defaults and ENV values resolved."""

    stages: list[list[Instruction]]
    args: dict[str, str] = field(default_factory=dict)

    @property
    def final(self) -> list[Instruction]:
        """Instructions of the stage that becomes the image."""
        return self.stages[-1]

    def env(self) -> dict[str, str]:
        """The ENV the image ends up with (PATH keeps its `$PATH` reference unexpanded)."""
        env: dict[str, str] = {}
        for ins in self.final:
            if ins.keyword == "ENV":
                for word in shlex.split(ins.args):
                    key, _, value = word.partition("=")
                    env[key] = self.expand(value, env, keep=("PATH",))
        return env

    def expand(self, text: str, env: dict[str, str] | None = None, keep: tuple[str, ...] = ()) -> str:
        """Substitute `${NAME}` / `$NAME` from ENV and ARG defaults, except the names in `keep`."""
        values = {**self.args, **(env or {})}

        def sub(m: re.Match) -> str:
            name = m.group(1) or m.group(2)
            return m.group(0) if name in keep or name not in values else values[name]

        return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, text)

    def cmd(self) -> list[str]:
        """The image's CMD in exec form."""
        (cmd,) = [i for i in self.final if i.keyword == "CMD"][-1:]
        return json.loads(cmd.args)

    def context_sources(self) -> list[str]:
        """Paths the build reads from the context: COPY/ADD sources and RUN bind-mount sources."""
        sources = []
        for ins in self.final:
            if ins.keyword in ("COPY", "ADD") and not any(f.startswith("--from=") for f in ins.flags):
                sources += shlex.split(ins.args)[:-1]
            for flag in ins.flags:
                opts = dict(o.partition("=")[::2] for o in flag.removeprefix("--mount=").split(","))
                if flag.startswith("--mount=") and opts.get("type") == "bind" and "from" not in opts:
                    sources.append(opts["source"])
        return sources

    def copies(self) -> dict[str, str]:
        """COPY source -> destination for single-source copies from the context."""
        out = {}
        for ins in self.final:
            words = shlex.split(ins.args)
            if ins.keyword == "COPY" and not any(f.startswith("--from=") for f in ins.flags) and len(words) == 2:
                out[words[0]] = words[1]
        return out

    def run_commands(self) -> list[str]:
        """The shell command of every RUN in the final stage, flags removed."""
        return [ins.args for ins in self.final if ins.keyword == "RUN"]


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    """Split a Dockerfile into stages of instructions (continuations joined, comments dropped)."""
    stages: list[list[Instruction]] = []
    args: dict[str, str] = {}
    logical, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if logical and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by Docker too
        if not logical:
            start = number
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        keyword, _, rest = logical.partition(" ")
        keyword = keyword.upper()
        flags = []
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        ins = Instruction(keyword, flags, rest, start)
        if keyword == "FROM":
            stages.append([])
        elif keyword == "ARG" and "=" in rest:
            name, _, default = rest.partition("=")
            args[name] = default
        if stages:
            stages[-1].append(ins)
        logical = ""
    return Dockerfile(stages, args)


def _pattern_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regex: `**` any depth, `*` and `?` within one path segment."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif c == "*":
            out, i = out + "[^/]*", i + 1
        elif c == "?":
            out, i = out + "[^/]", i + 1
        elif c == "[":
            end = pattern.index("]", i)
            out, i = out + "[" + pattern[i + 1:end].replace("!", "^", 1) + "]", end + 1
        else:
            out, i = out + re.escape(c), i + 1
    return re.compile(out + r"\Z")


def read_dockerignore(path: Path = DOCKERIGNORE) -> list[tuple[bool, re.Pattern]]:
    """(is_exception, regex) per pattern, in file order."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        rules.append((exception, _pattern_regex(pattern)))
    return rules


def is_sent(relpath: str, rules: list[tuple[bool, re.Pattern]]) -> bool:
    """Whether Docker sends this file: the last pattern matching it or a parent directory decides."""
    parts = relpath.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    sent = True
    for exception, regex in rules:
        if any(regex.match(c) for c in candidates):
            sent = exception
    return sent


def build_context(root: Path) -> set[str]:
    """Relative paths of the files under `root` that a `docker build` would send."""
    rules = read_dockerignore()
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return {f for f in files if is_sent(f, rules)}


def checkout_files() -> list[str]:
    """Files a fresh clone has: tracked plus untracked-but-not-ignored (work in progress counts)."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if (ROOT / line).is_file()]
