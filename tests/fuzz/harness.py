"""Runs fuzz inputs through the real ``hnn hash`` command and judges every outcome.

Each batch of inputs is one ``hnn hash --timeout T PATH...`` process, so the inputs meet
exactly what a user's command line meets (imports, stdout, stderr, exit status). The
process runs with its own ``HOME``, ``TMPDIR``, ``HNN_CACHE`` and working folder, and with
lowered limits (file size, tensor bytes, memory) so that a blow-up shows quickly.

An input's outcome is ``code`` (a ``HEX  PATH`` line on stdout), ``error`` (one
``hnn: error: PATH: ...`` line on stderr), or a failure: ``unclean`` (an error line that is
a traceback or an "unexpected error"), ``crash`` (the process died on it), ``hang`` (it ran
past the batch's wall-clock limit) or ``missing`` (no line at all). Any other line on stdout
or stderr is stray output; any file left behind in the watched folders is a stray write.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .mutate import Case

__all__ = ["Outcome", "Report", "run_cases"]

#: Lowered limits the fuzz processes run with (see hnn_tf.safe_io.Limits). The memory cap is
#: what one input may add to the process (RLIMIT_DATA over the data already in use), so a batch
#: process peaks near its libraries (about 1.7 GiB with TensorFlow, torch and onnxruntime loaded)
#: plus this cap: 2048 keeps that under tests/test_fuzz.py's MAX_RSS_MB with room to spare (at
#: 3072 an input that used its whole allowance reached 4.9 GiB, over MAX_RSS_MB, though the cap held).
FUZZ_LIMITS = {
    "HNN_MAX_FILE_MB": "64",
    "HNN_MAX_UNZIPPED_MB": "128",
    "HNN_MAX_CONFIG_MB": "16",
    "HNN_MAX_ZIP_MEMBERS": "2000",
    "HNN_MAX_TENSOR_MB": "1024",
    "HNN_MAX_MEMORY_MB": "2048",
}


@dataclass
class Outcome:
    """What happened to one input: ``kind`` and the line (or reason) behind it."""

    case: Case
    kind: str
    detail: str = ""


@dataclass
class Report:
    """The outcomes of a fuzz run and what else was seen.

    Attributes:
        outcomes: one per input, in input order.
        stray_stdout, stray_stderr: lines that are neither a code nor an error line.
        stray_files: files left in the watched folders outside the temp folder (relative paths).
        temp_leftovers: files left in the temp folder (allowed; counted for the report).
        peak_rss_mb: the largest peak resident memory of one batch process, MiB.
        seconds: wall time of the run.
    """

    outcomes: list[Outcome]
    stray_stdout: list[str] = field(default_factory=list)
    stray_stderr: list[str] = field(default_factory=list)
    stray_files: list[str] = field(default_factory=list)
    temp_leftovers: int = 0
    peak_rss_mb: float = 0.0
    seconds: float = 0.0

    def counts(self) -> Counter:
        """Outcome kinds and their counts."""
        return Counter(o.kind for o in self.outcomes)

    def failures(self) -> list[Outcome]:
        """Outcomes other than a code or a clean error."""
        return [o for o in self.outcomes if o.kind not in ("code", "error")]

    def by_family(self) -> dict[str, Counter]:
        """Per family (the part of the name before the first ``_``... its full tag), outcome counts."""
        out: dict[str, Counter] = {}
        for o in self.outcomes:
            out.setdefault(o.case.family.split("_")[0], Counter())[o.kind] += 1
        return out

    def summary(self) -> str:
        """One paragraph: totals, per family, memory, time, strays."""
        lines = [f"{len(self.outcomes)} inputs: " + ", ".join(f"{k} {v}" for k, v in sorted(self.counts().items())),
                 f"peak RSS {self.peak_rss_mb:.0f} MiB, {self.seconds:.0f} s, {self.temp_leftovers} files left "
                 "in the temp folder"]
        for fam, c in sorted(self.by_family().items()):
            lines.append(f"  {fam}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
        if self.stray_stdout or self.stray_stderr or self.stray_files:
            lines.append(f"stray stdout {len(self.stray_stdout)}, stderr {len(self.stray_stderr)}, "
                         f"files {len(self.stray_files)}")
        return "\n".join(lines)


def _snapshot(folders: list[Path]) -> set[str]:
    seen = set()
    for root in folders:
        for folder, dirs, files in os.walk(root, followlinks=False):
            for name in dirs + files:
                seen.add(os.path.relpath(os.path.join(folder, name), root.parent))
    return seen


def _hnn() -> str:
    exe = Path(sys.executable).parent / "hnn"
    return str(exe) if exe.exists() else "hnn"


def _run_batch(cases: list[Case], env: dict, cwd: Path, per_model_s: float) -> tuple[dict, list, list, float, int | None]:
    """One ``hnn hash`` process over ``cases``: (outcome by path, stray stdout, stray stderr,
    peak RSS MiB, the exit signal or status when the process died)."""
    out_file = cwd / f".out-{os.getpid()}-{threading.get_ident()}"
    err_file = cwd / f".err-{os.getpid()}-{threading.get_ident()}"
    args = [_hnn(), "hash", "--timeout", str(per_model_s)] + [str(c.path) for c in cases]
    if len(cases) == 1:  # hnn hash prints a bare code for one file; a second (absent) path keeps "HEX  PATH"
        args.append(str(cases[0].path) + ".absent")
    with open(out_file, "wb") as fo, open(err_file, "wb") as fe:
        proc = subprocess.Popen(args, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                                start_new_session=True)
        limit = 60 + per_model_s * 1.5 * len(cases)
        timer = threading.Timer(limit, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_file.read_text(errors="replace").splitlines()
    stderr = err_file.read_text(errors="replace").splitlines()
    out_file.unlink()
    err_file.unlink()
    by_path: dict[str, tuple[str, str]] = {}
    paths = {str(c.path) for c in cases}
    stray_out, stray_err = [], []
    for line in stdout:
        hexcode, _, path = line.partition("  ")
        if path in paths and hexcode and all(ch in "0123456789abcdef" for ch in hexcode):
            by_path.setdefault(path, ("code", line))
        else:
            stray_out.append(line)
    prefix = "hnn: error: "
    for line in stderr:
        if line.startswith(prefix):
            rest = line[len(prefix):]
            path = next((p for p in paths if rest.startswith(p + ":")), None)
            if path is None:
                if ".absent" in rest:
                    continue
                stray_err.append(line)
                continue
            unclean = "unexpected error" in rest or "Traceback" in rest
            by_path.setdefault(path, ("unclean" if unclean else "error", line))
        else:
            stray_err.append(line)
    died = proc.returncode if proc.returncode not in (0, 2) else None
    return by_path, stray_out, stray_err, usage.ru_maxrss / 1024.0, died


def run_cases(cases: list[Case], work: Path, jobs: int = 2, batch: int = 150, per_model_s: float = 30.0) -> Report:
    """Run every case through ``hnn hash`` (``jobs`` processes at a time) and judge the outcomes.

    Args:
        cases: the inputs (:func:`tests.fuzz.mutate.generate`).
        work: a scratch folder: home, temp, cache and working folders are made in it.
        jobs: processes at once.
        batch: inputs per process.
        per_model_s: ``--timeout`` of each input.
    Returns:
        the :class:`Report`.
    """
    start = time.time()
    folders = {name: work / name for name in ("home", "tmp", "cache", "cwd")}
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HNN_")}
    env.update(FUZZ_LIMITS)
    env.update({"HOME": str(folders["home"]), "TMPDIR": str(folders["tmp"]), "HNN_CACHE": str(folders["cache"]),
                "XDG_CACHE_HOME": str(folders["cache"]), "XDG_DATA_HOME": str(folders["home"] / "data"),
                "HNN_DB": str(work / "unused.sqlite"), "PYTHONDONTWRITEBYTECODE": "1"})
    watched = list(folders.values()) + sorted({c.path.parent for c in cases})
    before = _snapshot(watched)
    results: dict[str, tuple[str, str]] = {}
    strays_out: list[str] = []
    strays_err: list[str] = []
    peak = [0.0]
    lock = threading.Lock()
    queue = [cases[i : i + batch] for i in range(0, len(cases), batch)]

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                todo = queue.pop(0)
            while todo:
                by_path, so, se, rss, died = _run_batch(todo, env, folders["cwd"], per_model_s)
                with lock:
                    results.update(by_path)
                    strays_out.extend(so)
                    strays_err.extend(se)
                    peak[0] = max(peak[0], rss)
                if died is None:
                    break
                # the process died: the first input without an outcome is to blame; go on after it
                rest = [c for c in todo if str(c.path) not in by_path]
                if not rest:
                    break
                kind = "hang" if died == -signal.SIGKILL else "crash"
                with lock:
                    results[str(rest[0].path)] = (kind, f"process ended with {died}")
                todo = rest[1:]

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = []
    for c in cases:
        kind, detail = results.get(str(c.path), ("missing", ""))
        outcomes.append(Outcome(c, kind, detail))
    new = sorted(_snapshot(watched) - before)
    temp = [p for p in new if p == "tmp" or p.startswith("tmp/")]
    return Report(outcomes, strays_out, strays_err, [p for p in new if p not in temp], len(temp), peak[0],
                  time.time() - start)
