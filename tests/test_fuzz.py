"""The fuzz suite: about 1,000 mutated and malformed inputs through the real ``hnn hash``.

Every input must end in a code or in one error line naming the file: no traceback, no
crash, no hang, no stray output on stdout or stderr, no memory blow-up and no file written
outside the temp folder (tests/fuzz/harness.py says how each is judged). The default run
takes one to two minutes on two cores; the slow run generates 6,000 inputs from three seeds.
"""

from __future__ import annotations

import pytest

from fuzz.harness import run_cases
from fuzz.mutate import generate
from fuzz.seeds import build_seeds

#: Peak resident memory one ``hnn hash`` process may reach while it reads hostile inputs
#: (TensorFlow, torch and onnxruntime loaded take about 1.5 GiB; the fuzz limits cap the rest).
MAX_RSS_MB = 4096


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return build_seeds(tmp_path_factory.mktemp("fuzz-seeds"))


def _check(report, min_inputs: int) -> None:
    print("\n" + report.summary())
    failures = report.failures()
    assert len(report.outcomes) >= min_inputs
    assert not failures, "\n".join(f"{o.kind}: {o.case.path.name}: {o.detail[:300]}" for o in failures[:20])
    assert not report.stray_stdout, report.stray_stdout[:10]
    assert not report.stray_stderr, report.stray_stderr[:10]
    assert not report.stray_files, report.stray_files[:20]
    assert report.peak_rss_mb < MAX_RSS_MB
    counts = report.counts()
    assert counts["code"] > 0 and counts["error"] > 0  # both ends are exercised


def test_fuzz_inputs_end_in_a_code_or_one_clean_error(seeds, tmp_path):
    cases = generate(seeds, tmp_path / "inputs", count=1000, seed=0)
    families = {c.family.split("_")[0] for c in cases}
    assert families >= {"bytes", "onnx", "zip", "keras", "pt2", "tflite", "special"}
    _check(run_cases(cases, tmp_path / "work", jobs=2, batch=170), 1000)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzz_large(seeds, tmp_path, seed):
    cases = generate(seeds, tmp_path / "inputs", count=2000, seed=seed)
    _check(run_cases(cases, tmp_path / "work", jobs=2, batch=250), 2000)
