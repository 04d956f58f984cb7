"""MkDocs hooks for the documentation site (mkdocs.yml `hooks:`); not part of the package.

1. The home page is the README: `docs/index.md` holds a `--8<-- README.md` line, replaced
   by the README with its links rebased from the repository root to `docs/`.
2. Links to repository files outside `docs/` (benchmark tables and plots under
   `benchmarks/`, the README) are correct on GitHub, where the guides are also read, but
   are not pages of the site. When `repo_url` is set in mkdocs.yml they are pointed at
   that repository; otherwise they are left as they are, which MkDocs reports at INFO
   (mkdocs.yml: `validation: links: not_found: info`).
3. To keep that relaxed setting from hiding real mistakes, every relative link is
   checked here against the files on disk: a link to a path that exists nowhere is a
   warning, so `mkdocs build --strict` fails on it.
"""
from __future__ import annotations

import logging
import os
import posixpath
import re

log = logging.getLogger("mkdocs.hooks.barpo_docs")

INCLUDE = re.compile(r"^--8<-- (\S+)\s*$", re.MULTILINE)
# [text](target) and ![alt](target); skips code spans and fenced blocks below.
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def _relative_target(target: str) -> bool:
    return not (re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith(("#", "/")))


def _rebase(markdown: str, from_dir: str, to_dir: str) -> str:
    """Rewrite relative link targets written from `from_dir` so they work from `to_dir`."""
    def fix(m):
        target = m.group(2)
        if not _relative_target(target):
            return m.group(0)
        path, sep, anchor = target.partition("#")
        new = os.path.relpath(os.path.join(from_dir, path), to_dir).replace(os.sep, "/")
        if path.endswith("/") and not new.endswith("/"):
            new += "/"
        return f"{m.group(1)}{new}{sep}{anchor}{m.group(3)}"
    return _outside_code(markdown, fix)


def _outside_code(markdown: str, fix) -> str:
    """Apply `fix` to the links of `markdown`, leaving fenced blocks and code spans alone."""
    out, last = [], 0
    for block in FENCE.finditer(markdown):
        out.append(_spans(markdown[last:block.start()], fix))
        out.append(block.group(0))
        last = block.end()
    out.append(_spans(markdown[last:], fix))
    return "".join(out)


def _spans(text: str, fix) -> str:
    out, last = [], 0
    for span in CODE_SPAN.finditer(text):
        out.append(LINK.sub(fix, text[last:span.start()]))
        out.append(span.group(0))
        last = span.end()
    out.append(LINK.sub(fix, text[last:]))
    return "".join(out)


def on_page_markdown(markdown, page, config, files):
    docs_dir = config["docs_dir"]
    root = os.path.dirname(config["config_file_path"])
    page_dir = os.path.join(docs_dir, os.path.dirname(page.file.src_path))

    def include(m):
        source = os.path.join(root, m.group(1))
        with open(source, encoding="utf-8") as f:
            return _rebase(f.read(), os.path.dirname(source), page_dir)
    markdown = INCLUDE.sub(include, markdown)

    repo_url = (config.get("repo_url") or "").rstrip("/")

    def check(m):
        target = m.group(2)
        if not _relative_target(target):
            return m.group(0)
        path, sep, anchor = target.partition("#")
        if not path:
            return m.group(0)
        on_disk = os.path.normpath(os.path.join(page_dir, path))
        if not os.path.exists(on_disk):
            log.warning("%s links to %r, which does not exist", page.file.src_path, target)
            return m.group(0)
        inside_docs = os.path.commonpath([on_disk, os.path.abspath(docs_dir)]) == os.path.abspath(docs_dir)
        if inside_docs or not repo_url:
            return m.group(0)
        in_repo = posixpath.join(*os.path.relpath(on_disk, root).split(os.sep))
        return f"{m.group(1)}{repo_url}/tree/HEAD/{in_repo}{sep}{anchor}{m.group(3)}"
    return _outside_code(markdown, check)
