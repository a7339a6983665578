"""Safe output: a result appears under its final name complete, or not at all.

Every file and folder seqcnn writes goes through :func:`atomic_path` or
:func:`atomic_directory`, which hold the rules every command follows alike:

- The result is written under a temporary name beside the output and renamed into place
  only once complete; on any error or interruption the temporary file is removed.
- An output is never one of the command's inputs (the same path, a link to it, or a
  folder holding it): the command line registers its inputs with :func:`protect_inputs`.
- An existing output is replaced only when the caller allows it (``--force``), and never
  a file by a folder or a folder by a file: that is an error, whatever ``--force`` says.
- The final rename never replaces what another process wrote meanwhile: an output that
  did not exist when the work began is put in place with a rename that fails when the
  name is taken (``renameat2(RENAME_NOREPLACE)`` on Linux, else a hard link, else a
  check just before the rename).
- Temporary names are recognisable: ``.seqcnn-tmp.<host>.<pid>.<random>.<name>``.  What a
  killed run left behind (``kill -9``, a power cut) is removed by the next run writing
  into the same folder, once the process that owned it is gone.
- Errors name the user's path, never the temporary one; a write error without a file
  name (a full disk, a file size limit) is given the output's path.
"""

from __future__ import annotations

import contextvars
import errno
import functools
import logging
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import SeqcnnError, UsageError

__all__ = [
    "TEMP_PREFIX",
    "atomic_path",
    "atomic_directory",
    "check_output",
    "check_not_input",
    "protect_inputs",
    "protected_inputs",
    "remove_stale",
    "rename_no_replace",
    "temporary_directory",
    "temporary_name",
]

log = logging.getLogger("seqcnn")

#: Start of every temporary file or folder name seqcnn makes beside an output.
TEMP_PREFIX = ".seqcnn-tmp"
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"\.([^.]+)\.(\d+)\.[0-9a-f]+\.")
# Write errors that carry no file name: the output being written is the file concerned.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EROFS, getattr(errno, "EDQUOT", -1)}
_AT_FDCWD = -100
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2

_INPUTS: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar(
    "seqcnn_inputs", default=()
)
_SCANNED: set[tuple[int, str]] = set()


# --------------------------------------------------------------------------- inputs


@contextmanager
def protect_inputs(paths: Iterable[str | os.PathLike | None]) -> Iterator[tuple[Path, ...]]:
    """While inside, no atomic write may replace one of ``paths`` (or a folder holding one).

    ``None`` and ``"-"`` (standard input) are skipped; protections nest.
    """
    given = tuple(Path(p) for p in paths if p is not None and str(p) not in ("", "-"))
    token = _INPUTS.set(_INPUTS.get() + given)
    try:
        yield given
    finally:
        _INPUTS.reset(token)


def protected_inputs() -> tuple[Path, ...]:
    """The paths registered with :func:`protect_inputs` in this context."""
    return _INPUTS.get()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _holds(folder: Path, path: Path) -> bool:
    """Whether ``path`` lies inside the existing folder ``folder`` (links resolved)."""
    if not folder.is_dir():
        return False
    try:
        inside = Path(os.path.realpath(path))
        return Path(os.path.realpath(folder)) in inside.parents
    except (OSError, ValueError):
        return False


def check_not_input(
    path: str | os.PathLike,
    inputs: Iterable[str | os.PathLike] | None = None,
    *,
    replaced: bool = True,
) -> None:
    """Raise :class:`UsageError` when the output ``path`` is, or holds, one of ``inputs``.

    ``inputs`` defaults to those of :func:`protect_inputs`.  The same file is found through
    links as well (same device and inode).  ``replaced=False``: ``path`` is a folder that
    is written into, not replaced, so the inputs it holds are safe.
    """
    path = Path(path)
    for given in protected_inputs() if inputs is None else inputs:
        if given is None or str(given) in ("", "-"):
            continue
        given = Path(given)
        if _same_file(path, given) or os.path.abspath(path) == os.path.abspath(given):
            raise UsageError(
                f"the output is also an input ({given}); choose another output name",
                path=str(path),
            )
        if replaced and _holds(path, given):
            raise UsageError(
                f"the output folder holds an input ({given}) that writing it would delete; "
                "choose another output name",
                path=str(path),
            )


def check_output(
    path: str | os.PathLike,
    *,
    overwrite: bool,
    folder: bool = False,
    inputs: Iterable[str | os.PathLike] | None = None,
) -> Path:
    """The checks made before writing the output ``path``; raise :class:`UsageError`.

    Parameters
    ----------
    path
        The output file (or folder, with ``folder=True``).
    overwrite
        An existing output may be replaced (``--force``).
    folder
        The output is a folder.  A file is never replaced by a folder, nor a folder by a
        file, even with ``overwrite``: the user removes it, knowing what it was.
    inputs
        The command's inputs (default: those of :func:`protect_inputs`).
    """
    path = Path(path)
    check_not_input(path, inputs)
    if os.path.lexists(path):
        if folder and not path.is_dir():
            raise UsageError(
                "the output exists and is a file, not a folder; --force does not replace a "
                "file with a folder: remove it or choose another name",
                path=str(path),
            )
        if not folder and path.is_dir():
            raise UsageError(
                "the output exists and is a folder, not a file; --force does not replace a "
                "folder with a file: remove it or choose another name",
                path=str(path),
            )
        if not overwrite:
            raise UsageError("output already exists; use --force to replace it", path=str(path))
    return path


# ---------------------------------------------------------------------- temporary names


@functools.cache
def _host() -> str:
    import socket

    name = socket.gethostname().split(".")[0]
    return re.sub(r"[^A-Za-z0-9-]", "-", name)[:32] or "host"


def temporary_name(name: str) -> str:
    """A new temporary name for writing ``name``: prefix, host, pid, random part, name."""
    # Long output names are cut so the whole name stays within 255 bytes.
    short = os.fsencode(name)[:120].decode("utf-8", "ignore") or "output"
    return f"{TEMP_PREFIX}.{_host()}.{os.getpid()}.{os.urandom(4).hex()}.{short}"


def _owner_gone(pid: int) -> bool:
    """Whether process ``pid`` of this host has ended (a zombie counts as ended)."""
    if pid == os.getpid():
        return False
    if os.name != "posix":  # no safe liveness probe: keep what may still be in use
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, another user's
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def remove_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` whose owner process is gone.

    Only names made by :func:`temporary_name` on this host are considered; a folder is
    looked at once per process.  Returns what was removed.
    """
    folder = Path(folder)
    key = (os.getpid(), os.path.realpath(folder))
    if key in _SCANNED:
        return []
    _SCANNED.add(key)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or match.group(1) != _host() or not _owner_gone(int(match.group(2))):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
        log.info(f"removed {entry.path}, left by an interrupted run (process {match.group(2)})")
    return removed


# ------------------------------------------------------------------------------ renames


@functools.cache
def _renameat2():
    if sys.platform != "linux":
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # glibc before 2.28, or no libc to load
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    function.argtypes += [ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _rename_flags(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2`` with ``flags``; False where the system or file system lacks it."""
    function = _renameat2()
    if function is None:
        return False
    import ctypes

    if function(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(dst))


def rename_no_replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename ``src`` to ``dst``; :class:`FileExistsError` if ``dst`` exists, never replaced.

    Atomic with ``renameat2(RENAME_NOREPLACE)`` (Linux) or, for a file, a hard link;
    elsewhere ``dst`` is checked just before the rename.
    """
    src, dst = Path(src), Path(dst)
    if _rename_flags(src, dst, _RENAME_NOREPLACE):
        return
    if not src.is_dir():
        try:
            os.link(src, dst)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (some network and FAT file systems)
            pass
        else:
            os.unlink(src)
            return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def _taken(path: Path) -> UsageError:
    return UsageError(
        "output already exists: another process wrote it while this one ran; nothing was replaced",
        path=str(path),
    )


def _commit(tmp: Path, path: Path, replace: bool, folder: bool) -> None:
    """Put the finished ``tmp`` in place of ``path``."""
    if not replace:
        try:
            rename_no_replace(tmp, path)
        except FileExistsError:
            raise _taken(path) from None
        return
    if not folder:
        os.replace(tmp, path)
        return
    if not path.is_dir():  # removed, or turned into a file, while we worked
        check_output(path, overwrite=True, folder=True, inputs=())
        _commit(tmp, path, False, folder)
        return
    # Swap in one step where the system can, so that ``path`` is never missing.
    if _rename_flags(tmp, path, _RENAME_EXCHANGE):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
        return
    old = path.parent / temporary_name(path.name)
    os.rename(path, old)
    try:
        _commit(tmp, path, False, folder)
    except BaseException:
        if not os.path.lexists(path):  # put the old folder back; else the next run removes it
            os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------ user-facing names


def _user_name(name, tmp: Path, path: Path):
    """``name`` with the temporary path ``tmp`` at its start replaced by ``path``."""
    if name is None:
        return None
    text, prefix = os.fsdecode(name), str(tmp)
    if text == prefix or text.startswith(prefix + os.sep):
        return str(path) + text[len(prefix) :]
    return name


def _name_user_path(err: BaseException, tmp: Path, path: Path) -> None:
    """Make an error raised while writing ``tmp`` name ``path`` instead."""
    if isinstance(err, OSError):
        err.filename = _user_name(err.filename, tmp, path)
        err.filename2 = _user_name(err.filename2, tmp, path)
        if err.filename is None and err.errno in _WRITE_ERRNOS:
            err.filename = str(path)
        elif err.errno is None and len(err.args) == 1 and isinstance(err.args[0], str):
            err.args = (err.args[0].replace(str(tmp), str(path)),)  # e.g. pyarrow's errors
    elif isinstance(err, SeqcnnError) and err.path is not None:
        err.path = _user_name(err.path, tmp, path)
        err.args = (err.format(),)


def _remove(tmp: Path) -> None:
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    elif os.path.lexists(tmp):
        try:
            tmp.unlink()
        except OSError:
            pass


@contextmanager
def _atomic(path: Path, overwrite: bool, folder: bool) -> Iterator[Path]:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError("output folder does not exist", path=str(parent))
    check_output(path, overwrite=overwrite, folder=folder)
    remove_stale(parent)
    replace = os.path.lexists(path)
    tmp = parent / temporary_name(path.name)
    try:
        if folder:
            os.mkdir(tmp, 0o777)  # the umask applies, as for any folder the user makes
        else:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        yield tmp
        _commit(tmp, path, replace, folder)
    except BaseException as err:
        _name_user_path(err, tmp, path)
        raise
    finally:
        _remove(tmp)


@contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary file beside ``path``; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path
        The final file.
    overwrite
        Replace an existing file at ``path`` (the default, for files rewritten in place
        such as checkpoints); otherwise an existing one is an error raised before any work.
        Either way a file that appears at ``path`` while the work runs is not replaced.

    Raises
    ------
    UsageError
        ``path`` is a folder or one of the protected inputs, exists without ``overwrite``,
        appeared while writing, or its folder does not exist.
    """
    with _atomic(Path(path), overwrite, folder=False) as tmp:
        yield tmp


@contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; move it to ``path`` on success.

    Parameters
    ----------
    path
        The final directory.
    overwrite
        Replace an existing directory at ``path`` (``--force``); otherwise an existing one
        is an error raised before any work is done.  A file is never replaced.

    Raises
    ------
    UsageError
        As :func:`atomic_path`.
    """
    with _atomic(Path(path), overwrite, folder=True) as tmp:
        yield tmp


@contextmanager
def temporary_directory(parent: str | os.PathLike, name: str = "work") -> Iterator[Path]:
    """A scratch folder in ``parent`` with a recognisable name, removed on exit.

    What a killed run leaves is removed by the next run into ``parent``, as for
    :func:`atomic_path`.
    """
    parent = Path(parent)
    remove_stale(parent)
    tmp = parent / temporary_name(name)
    os.mkdir(tmp, 0o700)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
