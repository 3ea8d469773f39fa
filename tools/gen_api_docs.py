#!/usr/bin/env python3
"""Generates docs/api.md, the API reference, from the public headers' doc
comments (C: /* ... */ blocks before a declaration; C++: /// lines before a
declaration). `--check` exits 1 when docs/api.md is out of date (ctest runs
that, so the reference cannot drift from the headers)."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
HEADERS = [("C ABI", "runtime/include/actjit/actjit.h"),
           ("C++ API", "runtime/include/actjit/actjit.hpp"),
           ("Eigen interop", "runtime/include/actjit/eigen.hpp")]


def file_comment(lines):
    """The leading comment of a header: what it is."""
    out = []
    for line in lines:
        s = line.strip()
        if s.startswith("//"):
            out.append(s.lstrip("/").strip())
        elif s.startswith("/*") or s.startswith("*"):
            t = s.lstrip("/*").rstrip("*/").strip()
            out.append(t)
            if s.endswith("*/"):
                break
        elif s == "":
            if out:
                break
        else:
            break
    return "\n".join(out).strip()


def declarations(lines):
    """(comment, [declaration lines]) pairs: a doc comment and the
    declarations right below it (up to a blank line or the next comment)."""
    items, comment, i = [], [], 0
    in_block = False
    while i < len(lines):
        s = lines[i].strip()
        if in_block:
            comment.append(s.rstrip("/").rstrip("*").lstrip("*").strip())
            in_block = not s.endswith("*/")
            i += 1
            continue
        if s.startswith("/*"):
            in_block = not s.endswith("*/")
            comment.append(s[2:].rstrip("/").rstrip("*").strip())
            i += 1
            continue
        if s.startswith("///<"):  # a trailing member comment continued
            i += 1
            continue
        if s.startswith("///"):
            comment.append(s[3:].strip())
            i += 1
            continue
        if comment and s and not s.startswith("//") and not s.startswith("#"):
            decl = []
            while i < len(lines):
                t = lines[i].strip()
                if not t or t.startswith("///") or t.startswith("/*") or t in ("}", "};") or t.endswith(":"):
                    break
                decl.append(t)
                if re.match(r"struct\b", t) and t.endswith("{"):  # plain data: show the members
                    while i + 1 < len(lines) and lines[i].strip() != "};":
                        i += 1
                        decl.append("  " + lines[i].strip())
                    break
                if re.match(r"(class|enum|namespace)\b", t) and t.endswith("{"):
                    break
                i += 1
            if decl:
                items.append((" ".join(c for c in comment if c), decl))
            comment = []
            continue
        if s:
            comment = []
        i += 1
    return items


def title(decl):
    first = decl[0]
    m = re.match(r"(?:class|struct|enum)\s+(\w+)", first)
    if m:
        return m.group(1)
    m = re.search(r"([~\w]+)\s*\(", first)
    return m.group(1) if m else first.rstrip("{;").strip()


def generate():
    out = ["# actjit API reference", "",
           "Generated from the public headers by `tools/gen_api_docs.py`; do not edit.",
           "See the README for a tour and `examples/` for complete programs.", ""]
    for heading, path in HEADERS:
        lines = (ROOT / path).read_text().splitlines()
        out += [f"## {heading}: `{pathlib.Path(path).name}`", "", file_comment(lines), ""]
        lang = "c" if path.endswith(".h") else "cpp"
        for comment, decl in declarations(lines[1:]):
            code = [d.rstrip("{").rstrip() if d.endswith("{") and not d.startswith("struct") else d for d in decl]
            code = [d.strip() if d.strip() == "};" else d for d in code]
            out += [f"### {title(decl)}", "", f"```{lang}", *code, "```", "", comment, ""]
    return "\n".join(out).rstrip() + "\n"


def main():
    target = ROOT / "docs" / "api.md"
    text = generate()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != text:
            print("docs/api.md is out of date: run python3 tools/gen_api_docs.py", file=sys.stderr)
            return 1
        print("docs/api.md is up to date")
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
