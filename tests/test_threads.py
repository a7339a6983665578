"""Tests for seqcnn.threads: the CPUs a process may use and the threads it runs."""

from __future__ import annotations

import os
import sys
import types

import pytest
import torch

from seqcnn import threads
from seqcnn.errors import UsageError
from seqcnn.threads import (
    MAX_WORKERS,
    THREADS_HELP,
    available_cpus,
    cgroup_cpu_limit,
    default_workers,
    set_threads,
)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def restore_threads(monkeypatch):
    """Put back torch's threads, the recorded count and the numba environment variable."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_threads", None)
    for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.setenv(name, "1")  # recorded, so that the value before is put back
        monkeypatch.delenv(name)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    "cpu_max, expected", [("150000 100000\n", 1.5), ("max 100000\n", None), ("bad", None)]
)
def test_cgroup_v2_quota(tmp_path, cpu_max, expected):
    write(tmp_path / "cgroup" / "cpu.max", cpu_max)
    proc = write(tmp_path / "proc", "0::/\n")
    assert cgroup_cpu_limit(tmp_path / "cgroup", proc) == expected


def test_cgroup_v2_smallest_quota_along_the_path(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "user.slice" / "job" / "cpu.max", "max 100000")
    write(root / "user.slice" / "cpu.max", "300000 100000")
    write(root / "cpu.max", "400000 100000")
    proc = write(tmp_path / "proc", "0::/user.slice/job\n")
    assert cgroup_cpu_limit(root, proc) == 3.0


def test_cgroup_v1_quota_where_the_container_sees_only_its_own(tmp_path):
    # The path names the host's cgroup, which is not mounted inside the container: the
    # quota is read from the mount's top folder.
    root = tmp_path / "cgroup"
    write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "250000\n")
    write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    proc = write(tmp_path / "proc", "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    assert cgroup_cpu_limit(root, proc) == 2.5


def test_cgroup_v1_unlimited_and_missing(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "cpu" / "cpu.cfs_quota_us", "-1\n")
    write(root / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_limit(root, write(tmp_path / "proc", "1:cpu:/\n0::/\n")) is None
    assert cgroup_cpu_limit(root, tmp_path / "no-such-file") is None


@pytest.mark.parametrize("limit, expected", [(None, 6), (2.5, 3), (0.2, 1), (64.0, 6), (4.0, 4)])
def test_available_cpus_caps_affinity_by_quota(monkeypatch, limit, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: limit)
    assert available_cpus() == expected


def test_available_cpus_without_affinity(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: None)
    assert available_cpus() == 1


def test_available_cpus_here():
    assert 1 <= available_cpus() <= (os.cpu_count() or 1)


def test_set_threads_sets_torch(restore_threads):
    assert set_threads(1) == 1
    assert torch.get_num_threads() == 1
    assert set_threads() == available_cpus() == torch.get_num_threads()


def test_set_threads_and_workers(restore_threads, monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 12)
    assert default_workers() == MAX_WORKERS
    set_threads(3)
    assert default_workers() == 3
    set_threads(MAX_WORKERS + 5)
    assert default_workers() == MAX_WORKERS


def test_set_threads_numba(restore_threads, monkeypatch):
    # Before numba is imported its thread count goes to the environment it starts from.
    monkeypatch.delitem(sys.modules, "numba", raising=False)
    set_threads(2)
    assert os.environ["NUMBA_NUM_THREADS"] == "2"
    # Once imported it is set, at most to the threads numba started with.
    calls = []
    numba = types.SimpleNamespace(
        config=types.SimpleNamespace(NUMBA_NUM_THREADS=4), set_num_threads=calls.append
    )
    monkeypatch.setitem(sys.modules, "numba", numba)
    set_threads(3)
    set_threads(16)
    assert calls == [3, 4]


@pytest.mark.parametrize("n", [0, -2, 1.5, "4", True])
def test_set_threads_rejects_bad_counts(restore_threads, n):
    before = torch.get_num_threads()
    with pytest.raises(UsageError, match="whole number >= 1") as info:
        set_threads(n)
    assert "\n" not in str(info.value)
    assert torch.get_num_threads() == before


def test_help_text_is_one_line():
    assert "\n" not in THREADS_HELP and "cgroup" in THREADS_HELP


def test_set_threads_before_torch_uses_the_environment(restore_threads, monkeypatch):
    """Without torch imported, the count goes to OMP_NUM_THREADS (read by torch's pool)."""
    monkeypatch.delitem(sys.modules, "torch")
    assert set_threads(3) == 3
    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert threads.default_workers() == 3


def test_set_threads_default_honours_omp_num_threads(restore_threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what torchrun sets for each process
    assert set_threads() == 1 == torch.get_num_threads()
