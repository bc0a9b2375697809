"""Plain text, source code, Markdown and reStructuredText.

The text is kept as a person reads it in an editor (only newlines are normalised), so char
offsets of chunks point at what the person sees when the file is opened.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from desktop_search.errors import UnsupportedFormat
from desktop_search.extract._common import Limits, clip, normalise, read_head
from desktop_search.extract.base import Document
from desktop_search.extract.sniff import SNIFF_BYTES, is_binary, magic, text_encoding_hint

TEXT_EXTENSIONS = frozenset(
    {
        ".txt", ".text", ".log", ".me", ".nfo", ".org", ".adoc", ".asciidoc", ".textile",
        ".wiki", ".mediawiki", ".creole", ".eml", ".vtt", ".srt", ".sub", ".rtx", ".todo",
        ".out", ".lst", ".diz", ".1st", ".readme", ".bib",
    }
)  # fmt: skip

MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mkdn", ".mdx", ".rmd"})

RST_EXTENSIONS = frozenset({".rst", ".rest"})

CODE_EXTENSIONS = frozenset(
    {
        # general purpose languages
        ".py", ".pyi", ".pyw", ".pyx", ".pxd", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts",
        ".cts", ".tsx", ".c", ".h", ".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++",
        ".inl", ".ipp", ".m", ".mm", ".rs", ".go", ".java", ".kt", ".kts", ".scala", ".sc",
        ".groovy", ".gradle", ".clj", ".cljs", ".cljc", ".edn", ".cs", ".fs", ".fsi", ".fsx",
        ".vb", ".swift", ".dart", ".rb", ".rake", ".gemspec", ".php", ".pl", ".pm", ".t", ".lua",
        ".r", ".jl", ".hs", ".lhs", ".ml", ".mli", ".ex", ".exs", ".erl", ".hrl", ".elm",
        ".nim", ".zig", ".d", ".v", ".sv", ".svh", ".vhd", ".vhdl", ".f", ".f90", ".f95",
        ".f03", ".for", ".pas", ".pp", ".lisp", ".lsp", ".el", ".scm", ".ss", ".rkt", ".tcl",
        ".awk", ".sed", ".vim", ".asm", ".s", ".cu", ".cuh", ".cl", ".glsl", ".hlsl", ".wgsl",
        ".metal", ".sol", ".ada", ".adb", ".ads", ".cob", ".cbl", ".pro", ".prolog", ".coffee",
        ".cr", ".purs", ".re", ".res", ".gd", ".hx", ".odin", ".vala", ".mojo",
        # shells and scripts
        ".sh", ".bash", ".zsh", ".fish", ".ksh", ".csh", ".tcsh", ".ps1", ".psm1", ".psd1",
        ".bat", ".cmd",
        # data, configuration and markup people write by hand
        ".toml", ".yaml", ".yml", ".json", ".jsonc", ".json5", ".jsonl", ".ndjson", ".geojson",
        ".ipynb", ".csv", ".tsv", ".ini", ".cfg", ".conf", ".config", ".properties",
        ".editorconfig", ".sql", ".psql", ".graphql", ".gql", ".proto", ".thrift", ".avsc",
        ".xml", ".xsd", ".xsl", ".xslt", ".plist", ".svg", ".css", ".scss", ".sass", ".less",
        ".styl", ".vue", ".svelte", ".astro", ".tex", ".sty", ".cls", ".ltx", ".dtx", ".bst",
        ".cmake", ".mk", ".mak", ".make", ".ninja", ".bzl", ".bazel", ".nix", ".dhall", ".tf",
        ".tfvars", ".hcl", ".nomad", ".dockerfile", ".containerfile", ".j2", ".jinja",
        ".jinja2", ".tmpl", ".tpl", ".mustache", ".hbs", ".handlebars", ".ejs", ".erb",
        ".haml", ".slim", ".pug", ".liquid", ".twig", ".diff", ".patch", ".gitignore",
        ".gitattributes", ".dockerignore", ".npmignore", ".pom", ".sbt", ".cabal", ".lock",
        ".http", ".rest-client", ".ron", ".kdl", ".pest", ".g4", ".y", ".yy", ".l", ".ll",
        ".lex", ".pyproj", ".csproj", ".vbproj", ".fsproj", ".sln", ".vcxproj", ".props",
        ".targets", ".manifest", ".service", ".desktop", ".reg", ".gpx", ".kml", ".rss",
        ".atom", ".opml", ".srv", ".msg", ".action", ".launch", ".urdf", ".sdf", ".po", ".pot",
    }
)  # fmt: skip

# Files people name without an extension.
CODE_NAMES = frozenset(
    {
        "makefile", "gnumakefile", "dockerfile", "containerfile", "vagrantfile", "gemfile",
        "rakefile", "procfile", "jenkinsfile", "brewfile", "podfile", "justfile", "snakefile",
        "sconstruct", "sconscript", "cmakelists.txt", "build", "workspace", "pipfile",
        "tiltfile", "caddyfile", "earthfile",
    }
)  # fmt: skip
TEXT_NAMES = frozenset(
    {
        "readme", "license", "licence", "copying", "copyright", "authors", "contributors",
        "changelog", "changes", "news", "notice", "install", "todo", "thanks", "history",
        "credits", "maintainers", "patents", "hacking", "bugs", "faq",
    }
)  # fmt: skip


def kind_for_name(path: Path) -> str | None:
    """The kind ("code", "text", "markdown", "rst") a file's extension or name says, or None."""
    suffix = path.suffix.lower()
    name = path.name.lower()
    if suffix in MARKDOWN_EXTENSIONS:
        return "markdown"
    if suffix in RST_EXTENSIONS:
        return "rst"
    if name in CODE_NAMES or suffix in CODE_EXTENSIONS:
        return "code"
    if suffix in TEXT_EXTENSIONS or name in TEXT_NAMES:
        return "text"
    return None


# --- decoding -------------------------------------------------------------------------------


def decode(
    data: bytes,
    warnings: list[str],
    *,
    more_follows: bool = False,
    declared: str | None = None,
) -> str:
    """Bytes to str: BOM (UTF-8/16/32), else `declared` if valid, else UTF-8, cp1252, latin-1.

    `more_follows` says the bytes are a prefix of a longer file, so a multi-byte sequence cut at
    the end is dropped rather than called an error. Never raises.
    """
    encoding = text_encoding_hint(data[:SNIFF_BYTES])
    if encoding is not None:
        text = _decode_with(data, encoding, more_follows, errors="replace")
        if "\ufffd" in text:
            warnings.append(f"encoding: invalid {encoding} sequences replaced")
        return text
    if declared is not None and _codec_known(declared):
        try:
            return _decode_with(data, declared, more_follows, errors="strict")
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return _decode_with(data, "utf-8", more_follows, errors="strict")
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a few bad bytes: keep it UTF-8 (cp1252 would garble every accent).
    replaced = _decode_with(data, "utf-8", more_follows, errors="replace")
    bad = replaced.count("\ufffd")
    good_non_ascii = sum(1 for ch in replaced if ord(ch) > 127) - bad
    if good_non_ascii > 4 * bad:
        warnings.append(f"encoding: {bad} invalid UTF-8 sequences replaced")
        return replaced
    try:
        text = data.decode("cp1252")
        warnings.append("encoding: not UTF-8, decoded as cp1252")
        return text
    except UnicodeDecodeError:
        warnings.append("encoding: not UTF-8, decoded as latin-1")
        return data.decode("latin-1")


def _codec_known(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _decode_with(data: bytes, encoding: str, more_follows: bool, *, errors: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    return decoder.decode(data, final=not more_follows)


# --- titles ---------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX_H1 = re.compile(r"^\s{0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_H1 = re.compile(r"^\s{0,3}=+[ \t]*$")
_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.IGNORECASE)
_TITLE_SCAN_LINES = 400


def markdown_title(text: str) -> str:
    """The YAML front matter title, else the first level-1 heading (ATX or setext)."""
    lines = text.split("\n", _TITLE_SCAN_LINES)[:_TITLE_SCAN_LINES]
    start = 0
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                start = i + 1
                break
            m = _FRONT_TITLE.match(lines[i])
            if m:
                return m.group(1).strip("'\"").strip()
    fence: str | None = None
    for i in range(start, len(lines)):
        line = lines[i]
        m = _FENCE.match(line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = None
            continue
        if fence is not None:
            continue
        m = _ATX_H1.match(line)
        if m:
            return m.group(1).strip()
        if (
            i + 1 < len(lines)
            and line.strip()
            and _SETEXT_H1.match(lines[i + 1])
            and not line.startswith(("    ", "\t"))
        ):
            return line.strip()
    return ""


_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+[ \t]*$")


def rst_title(text: str) -> str:
    """The first section title: a line underlined (and maybe overlined) with punctuation."""
    lines = text.split("\n", _TITLE_SCAN_LINES)[:_TITLE_SCAN_LINES]
    for i, line in enumerate(lines):
        m = _ADORNMENT.match(line)
        if m and i + 2 < len(lines):
            # overline, title, underline of the same character
            title = lines[i + 1].strip()
            under = _ADORNMENT.match(lines[i + 2])
            if title and not _ADORNMENT.match(lines[i + 1]) and under and under[1] == m[1]:
                return title
        if (
            not m
            and line.strip()
            and not line.startswith((" ", "\t", ".. "))
            and i + 1 < len(lines)
            and (i == 0 or not lines[i - 1].strip())
        ):
            under = _ADORNMENT.match(lines[i + 1])
            if under and len(lines[i + 1].rstrip()) >= min(len(line.rstrip()), 3):
                return line.strip()
    return ""


# --- extraction -----------------------------------------------------------------------------


def read_text(path: Path, limits: Limits, warnings: list[str]) -> str:
    """A text file's decoded text: at most max_bytes read (a warning says when it was cut)."""
    cap = min(limits.max_bytes, 4 * limits.max_chars + 4)
    data, more = read_head(path, cap)
    if is_binary(data[:SNIFF_BYTES]):
        what = magic(data)
        raise UnsupportedFormat(
            f"{path.name}: binary data ({what or 'not text'}), not extracted", reason="binary"
        )
    if more:
        warnings.append(f"truncated: read only the first {cap} bytes")
    text = normalise(decode(data, warnings, more_follows=more))
    return text[1:] if text.startswith("\ufeff") else text


def extract_text(path: Path, limits: Limits, kind: str = "text") -> Document:
    warnings: list[str] = []
    text = clip(read_text(path, limits, warnings), limits, warnings)
    title = ""
    if kind == "markdown":
        title = markdown_title(text)
    elif kind == "rst":
        title = rst_title(text)
    elif kind == "text" and text.startswith("#!"):
        kind = "code"
    return Document(text=text, title=title, kind=kind, warnings=warnings)
