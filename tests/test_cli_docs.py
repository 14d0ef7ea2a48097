"""docs/cli.md is generated from --help: it must match the commands as they are."""

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_up_to_date():
    gen = runpy.run_path(str(ROOT / "scripts" / "gen_cli_docs.py"))
    assert (ROOT / "docs" / "cli.md").read_text() == gen["render"](), \
        "docs/cli.md is stale: run `uv run python scripts/gen_cli_docs.py`"
