"""The apply_patch grammar: which files a patch writes and which lines it adds."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from worktally.client.importers.apply_patch import (
    PatchedFile,
    output_failed,
    parse_patch,
    patch_from_shell,
)

PATCH = """*** Begin Patch
*** Add File: docs/new.md
+# Title
+body line
*** Update File: src/a.py
*** Move to: src/b.py
@@ def f():
-    return 1
+    return 2
     context stays
*** Delete File: src/gone.py
*** Update File: src/c.py
@@
+added_in_c()
*** End Patch"""


def test_parse_patch_sections() -> None:
    assert parse_patch(PATCH) == [
        PatchedFile("docs/new.md", ("# Title", "body line")),
        PatchedFile("src/b.py", ("    return 2",)),
        PatchedFile("src/c.py", ("added_in_c()",)),
    ]


def test_text_outside_the_envelope_is_ignored() -> None:
    assert parse_patch("echo hi\n+not a patch line\n" + PATCH + "\n+after the end")[0].path == (
        "docs/new.md"
    )
    assert parse_patch("+x\n").__len__() == 0


def test_shell_forms() -> None:
    heredoc = {"command": ["bash", "-lc", f"cd x && apply_patch << 'EOF'\n{PATCH}\nEOF\n"],
               "workdir": "/w"}
    found = patch_from_shell(json.dumps(heredoc))
    assert found is not None and found[1] == "/w" and parse_patch(found[0])[2].path == "src/c.py"
    direct = patch_from_shell({"command": ["apply_patch", PATCH]})
    assert direct == (PATCH, None)
    assert patch_from_shell(json.dumps({"command": ["ls", "-la"]})) is None
    assert patch_from_shell("apply_patch but not json") is None


def test_output_failure_forms() -> None:
    ok = json.dumps({"output": "Success. Updated the following files:\nM a\n",
                     "metadata": {"exit_code": 0}})
    assert not output_failed(ok)
    assert output_failed(json.dumps({"output": "boom", "metadata": {"exit_code": 1}}))
    assert output_failed("error: Failed to find expected lines in src/App.tsx")
    assert not output_failed([{"type": "input_text", "text": "Success. Updated"}])
    assert output_failed([{"type": "input_text", "text": "apply_patch verification failed: x"}])


_LINE = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                max_size=40)


@given(files=st.dictionaries(st.from_regex(r"[a-z]{1,8}/[a-z]{1,8}\.py", fullmatch=True),
                             st.lists(_LINE, max_size=5), min_size=1, max_size=4))
def test_added_lines_round_trip(files: dict[str, list[str]]) -> None:
    body = "".join(
        f"*** Add File: {path}\n" + "".join(f"+{line}\n" for line in lines)
        for path, lines in files.items()
    )
    parsed = parse_patch(f"*** Begin Patch\n{body}*** End Patch\n")
    assert {p.path: list(p.added) for p in parsed} == files
