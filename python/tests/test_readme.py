"""The README's Python example, run as written on the UCI tables: it scores all 30,000 accounts
as the package's Arrow path does (which test_uci.py holds to the server and payrisk-train)."""

from __future__ import annotations

import contextlib
import io
import os
import re

import pyarrow.csv as pcsv

import payrisk
from conftest import MODEL, POLICY, REPO


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    found = re.search(r"<!-- example: python/tests/test_readme.py -->\n```python\n(.*?)```", text,
                      re.S)
    assert found, "the README's Python example is gone"
    return found.group(1)


def test_the_readme_python_example_scores_the_uci_accounts(uci_tables, tmp_path):
    # Pins: the example runs from a directory holding models/ and data/uci as the README
    # makes them, and its worklist is the package's on the same tables.
    (tmp_path / "data").mkdir()
    os.symlink(uci_tables, tmp_path / "data" / "uci")
    os.symlink(REPO / "models", tmp_path / "models")
    scope: dict = {}
    printed = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(readme_example(), "README.md", "exec"), scope)
    finally:
        os.chdir(cwd)
    worklist = scope["worklist"]
    assert len(worklist) == 30_000 and "repayment_probability" in printed.getvalue()
    arrow = payrisk.Scorer(MODEL, POLICY).score(
        pcsv.read_csv(uci_tables / "accounts.csv"),
        pcsv.read_csv(uci_tables / "payment_history.csv"), reasons=4)
    # Decided at different moments: probabilities and treatments do not depend on the clock.
    assert worklist["repayment_probability"].tolist() == arrow.column("repayment_probability").to_pylist()
    assert worklist["treatment"].tolist() == arrow.column("treatment").to_pylist()
