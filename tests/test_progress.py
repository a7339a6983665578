"""Progress bars: shown on request, silent (without importing tqdm) otherwise."""

import subprocess
import sys

from seqcnn._progress import progress_bar


def test_hidden_bar_iterates_and_skips_tqdm():
    code = (
        "import sys; from seqcnn._progress import progress_bar\n"
        "bar = progress_bar(False, [1, 2, 3], desc='x')\n"
        "assert list(bar) == [1, 2, 3]\n"
        "with progress_bar(None, total=3) as b: b.update(2)\n"  # stderr is a pipe: hidden
        "print('tqdm' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert result.stderr == ""


def test_shown_bar_writes_to_stderr(capsys):
    with progress_bar(True, total=4, desc="encoding", unit=" seqs") as bar:
        bar.update(4)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "encoding" in captured.err and "/4" in captured.err
