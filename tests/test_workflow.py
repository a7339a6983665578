"""workflows/Snakefile: the whole pipeline on a tiny config, and ``snakemake --lint``.

Snakemake runs in a subprocess in ``tmp_path`` (its working directory, where the config's
relative paths point and ``.snakemake/`` goes), with this environment's ``seqcnn`` first on
PATH, as ``make workflow`` runs it.  The model is tiny and trains for two epochs, and
interpretation matches against the 12 bundled planted motifs, so the run takes seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import planted_records, run_seqcnn, write_fasta_file

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflows" / "Snakefile"
MOTIFS = ROOT / "seqcnn" / "data" / "planted_motifs.meme"
TINY_TRAIN = (
    "--first-filters 8 --first-width 7 --option 'conv_filters=[8]' --option dense_units=16 "
    "--batch-size 32 --lr 3e-3 --seed 1"
)


def snakemake(*args, cwd: Path) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env.pop("SEQCNN_DEBUG", None)
    command = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One workflow run: 300 training sequences, two FASTA files predicted in 3 shards each."""
    root = tmp_path_factory.mktemp("workflow")
    records, labels = planted_records(300, 100, seed=4)
    write_fasta_file(root / "train.fa", records, width=60)
    (root / "labels.tsv").write_text(
        "id\tbound\n" + "".join(f"{r}\t{y}\n" for (r, _), y in zip(records, labels, strict=True))
    )
    # Two records for three shards: the last shard is empty and must still make a table.
    write_fasta_file(root / "few.fa.gz", records[:2], compress="gzip")
    config = {
        "outdir": "out",
        "encode": {"fasta": ["train.fa"], "labels": "labels.tsv"},
        "train": {"epochs": 2, "device": "cpu", "options": TINY_TRAIN, "threads": 1},
        "predict": {
            "fasta": {"all": "train.fa", "few": "few.fa.gz"},
            "shards": 3,
            # Shards of whole batches (300 records: 100 each, two batches of 50) are
            # predicted in the batches of one run over the whole file: bit-identical values.
            "batch_size": 50,
        },
        "interpret": {"motif_db": str(MOTIFS), "threads": 1},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--cores", 2, "--configfile", "config.yaml", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def test_outputs_logs_and_no_leftover_shards(run):
    out = run / "out"
    assert (out / "dataset" / "dataset.json").is_file()
    assert (out / "model" / "weights.safetensors").is_file()
    assert (out / "interpret" / "report.html").is_file()
    # Matched against the given motif file, not all of JASPAR.
    assert "given 12 target motifs" in (out / "logs" / "interpret.log").read_text()
    logs = {p.relative_to(out / "logs").as_posix() for p in (out / "logs").rglob("*.log")}
    assert {"encode.log", "train.log", "interpret.log", "split/all.log", "gather/few.log",
            "predict/all/shard_002.log"} <= logs  # fmt: skip
    # Shard FASTA files and tables are temporary: removed once gathered.
    assert not (out / "shards").exists() or not list((out / "shards").rglob("*.*"))


@pytest.mark.parametrize("name, fasta", [("all", "train.fa"), ("few", "few.fa.gz")])
def test_gathered_predictions_equal_one_predict_of_the_whole_file(run, name, fasta):
    direct = run / f"direct_{name}.tsv"
    result = run_seqcnn(
        "predict", run / fasta, "-m", run / "out" / "model", "-o", direct, "--batch-size", 50,
        env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    gathered = (run / "out" / "predictions" / f"{name}.tsv").read_text()
    assert gathered == direct.read_text()
    assert gathered.startswith("id\tbound\n")
    assert gathered.count("\n") == {"all": 301, "few": 3}[name]


def test_a_second_run_has_nothing_to_do(run):
    result = snakemake("--cores", 1, "--configfile", "config.yaml", "--dry-run", cwd=run)
    assert result.returncode == 0, result.stderr
    assert "Nothing to be done" in result.stdout + result.stderr


def test_lint_is_clean(tmp_path):
    config = ROOT / "workflows" / "config.yaml"
    result = snakemake("--lint", "--configfile", config, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def scanned(run):
    """The scan rules on the trained model of ``run``: a two-contig genome, three parts."""
    from conftest import random_sequences

    one, two = random_sequences(2, 4000, seed=9)
    records = [("1", one), ("2", two[:1500] + "N" * 300 + two[1800:2600])]
    write_fasta_file(run / "ref.fa.gz", records, width=60, compress="bgzip")
    config = yaml.safe_load((run / "config.yaml").read_text())
    # Batches of 8 windows: parts (cut between chunks of 16 batches) of 3 chunks or so.
    config["scan"] = {"genome": "ref.fa.gz", "regions": ["chr1", "chr2"], "stride": 10,
                      "parts": 3, "batch_size": 8, "format": "bw"}  # fmt: skip
    (run / "config_scan.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("out/scan", "--cores", 2, "--configfile", "config_scan.yaml", cwd=run)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rule train" not in result.stdout + result.stderr  # the model is up to date
    return run


def test_gathered_scan_equals_one_scan(scanned):
    pybigtools = pytest.importorskip("pybigtools")
    out = scanned / "out"
    assert [p.name for p in (out / "scan").glob("track*")] == ["track.bw"]
    logs = {p.name for p in (out / "logs" / "scan").iterdir()}
    assert logs == {"part_001.log", "part_002.log", "part_003.log", "gather.log"}
    assert not (out / "scan_parts").exists() or not list((out / "scan_parts").iterdir())
    direct = scanned / "direct.bw"
    result = run_seqcnn(
        "scan", "-m", out / "model", "--genome", scanned / "ref.fa.gz", "--regions", "chr1",
        "--regions", "chr2", "--stride", 10, "--batch-size", 8, "--threads", 1, "-o", direct,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    def records(path):
        reader = pybigtools.open(str(path))
        return reader.chroms(), {c: list(reader.records(c)) for c in reader.chroms()}

    gathered, whole = records(out / "scan" / "track.bw"), records(direct)
    assert gathered == whole
    assert whole[0] == {"chr1": 4000, "chr2": 2600} and len(whole[1]["chr1"]) == 391


def test_lint_is_clean_with_a_scan(tmp_path):
    config = yaml.safe_load((ROOT / "workflows" / "config.yaml").read_text())
    config["scan"] = {"genome": "ref.fa.gz", "regions": ["chr20", "regions.bed"], "parts": 8}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--lint", "--configfile", "config.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def varianted(run):
    """The variant rules on the trained model of ``run``: a VCF scored in three parts."""
    from conftest import random_sequences

    (one,) = random_sequences(1, 3000, seed=11)
    write_fasta_file(run / "vref.fa.gz", [("1", one)], width=60, compress="bgzip")
    rows = []
    for k, p in enumerate(range(40, 2900, 61)):  # SNVs, a deletion, an insertion, <DEL>
        base = one[p]
        alt = ["ACGT"[("ACGT".index(base) + 1) % 4], base + "GG", "<DEL>"][k % 3]
        ref = one[p : p + 3] if k % 7 == 0 else base
        rows.append(f"chr1\t{p + 1}\tv{k}\t{ref}\t{alt if k % 7 else base}\t.\t.\t.\n")
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    (run / "calls.vcf").write_text(header + "".join(rows))
    config = yaml.safe_load((run / "config.yaml").read_text())
    # Batches of 2 (chunks of 8 alleles): three parts of a few chunks each.
    config["variants"] = {"vcf": {"calls": "calls.vcf"}, "genome": "vref.fa.gz", "parts": 3,
                          "batch_size": 2}  # fmt: skip
    (run / "config_variants.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("out/variants/calls.tsv", "--cores", 2, "--configfile",
                       "config_variants.yaml", cwd=run)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rule train" not in result.stdout + result.stderr  # the model is up to date
    return run


def test_gathered_variants_equal_one_run(varianted):
    out = varianted / "out"
    logs = {p.name for p in (out / "logs" / "variants" / "calls").iterdir()}
    assert logs == {"part_001.log", "part_002.log", "part_003.log", "gather.log"}
    parts = out / "variant_parts"
    assert not parts.exists() or not list(parts.rglob("*.tsv"))  # temporary
    direct = varianted / "direct_variants.tsv"
    result = run_seqcnn(
        "variants", varianted / "calls.vcf", "-m", out / "model", "--genome",
        varianted / "vref.fa.gz", "--batch-size", 2, "--threads", 1, "-o", direct,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    gathered = (out / "variants" / "calls.tsv").read_text()
    assert gathered == direct.read_text()
    assert gathered.count("\n") > 30 and gathered.startswith("chrom\tpos\tid\tref\talt\t")


def test_lint_is_clean_with_variants(tmp_path):
    config = yaml.safe_load((ROOT / "workflows" / "config.yaml").read_text())
    config["variants"] = {"vcf": {"calls": "calls.vcf.gz"}, "genome": "ref.fa.gz", "parts": 4}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("--lint", "--configfile", "config.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr
