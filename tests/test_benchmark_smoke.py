"""The benchmark still runs (tiny sizes, no timing assertions: figures belong in BENCHMARKS.md)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_stages_and_default_recipe_write_a_report(tmp_path):
    out = tmp_path / "BENCH.md"
    class_section = ("<!-- class benchmark: start -->\n## Class benchmark\nfigures\n<!-- class benchmark: end -->\n\n"
                     "Note on the class section above, written by hand.")  # the notes after it are kept too
    out.write_text("# old figures\n\n" + class_section + "\n")
    p = subprocess.run([sys.executable, "-m", "mnistviz", "bench", "--quick", "--only", "stages", "default",
                        "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    text = out.read_text()
    assert "Stroke → all stages" in text and "Ratio (plain / ours, p50)" in text
    assert "# old figures" not in text and text.count(class_section) == 1  # the class section and its notes are kept
    # section 4 ran the documented command in a fresh process and read back its held-out accuracy
    assert "python -m mnistviz train --preset default --out mnistviz/assets/default_model.keras" in text
    row = next(line for line in text.splitlines() if line.startswith("| 7 |"))
    assert "| 500 |" in row and float(row.rstrip(" |").rsplit("|", 1)[1]) > 0.1
