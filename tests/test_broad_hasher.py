"""The default hasher trained on the broad zoo (``hnn zoo train``), its check threshold on the
broad zoo (hnn_tf/zoo/calibration.py ``calibrate_broad``) and the shipped kinds of hasher.

Synthetic families (conftest's ``family_items``: a chain of one op pattern per family, several
depths) stand in for the zoo."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from hnn_tf.hasher_files import SHIPPED_THRESHOLDS, HasherFolder, shipped_hasher_dir

def test_default_hasher_is_the_broad_zoo_hasher_and_the_papers_stays_selectable():
    from hnn_tf.hashing import load_hasher
    from hnn_tf.index.threshold import threshold_for

    assert shipped_hasher_dir(64) == shipped_hasher_dir(64, "broad")
    default = HasherFolder.locate(64)
    assert default.path.name == "broad-q64" and default.meta["config"]["wl_buckets"] > 0
    assert HasherFolder.locate(64, "hnn").path.name == "hasher-q64"
    versions = {kind: load_hasher(64, kind).version for kind in ("broad", "hnn", "wl", "wl-sized")}
    assert load_hasher(64).version == versions["broad"] and len(set(versions.values())) == 4
    # every shipped hasher has its own calibrated threshold, on the zoo it belongs to (records
    # written before broad-zoo calibrations existed have no "zoo" field: the paper zoo's)
    for kind, zoo in (("broad", "broad"), ("hnn", "paper"), ("wl", "broad"), ("wl-sized", "broad")):
        choice = threshold_for(64, versions[kind], kind)
        assert choice.source == "calibrated" and choice.record.get("zoo", "paper") == zoo, kind
    with pytest.raises(KeyError):
        shipped_hasher_dir(64, "nope")


def test_calibration_of_a_shipped_kind_is_the_packages_not_a_folder_in_the_working_directory(tmp_path,
                                                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    for kind in ("wl", "hnn", "broad"):
        assert HasherFolder.thresholds_for(kind) == SHIPPED_THRESHOLDS
    (tmp_path / "wl").mkdir()  # a real folder of that name is a hasher folder, as before
    assert HasherFolder.thresholds_for("wl").resolve() == tmp_path / "wl" / "check_threshold.json"


def test_broad_calibration_flags_at_most_one_percent_of_known_models_and_says_what_it_catches(family_items):
    from hnn_tf.codes import hamming_matrix
    from hnn_tf.zoo.calibration import calibrate_broad
    from hnn_tf.wl_hash import WLHasher

    items = family_items()
    rec = calibrate_broad(WLHasher(), items)
    codes = WLHasher().encode([it.graph for it in items])
    fam = np.array([it.family for it in items])
    d = hamming_matrix(codes, codes)
    d[fam[:, None] == fam[None, :]] = 65
    flagged = (d.min(axis=1)[:, None] <= np.arange(65)[None, :]).mean(axis=0)
    t, cap = rec["threshold"], rec["false_flag_cap"]
    # the cap: the largest T at which at most 1% of the architectures are flagged against another family
    assert flagged[cap] <= 0.01 and (cap == 64 or flagged[cap + 1] > 0.01)
    assert rec["zoo"] == "broad" and t == min(cap, rec["f1_threshold"]) and flagged[t] <= 0.01
    assert rec["false_flags"] == pytest.approx(flagged[t]) and rec["curve"][t] == pytest.approx(flagged[t], abs=1e-4)
    # the six synthetic families share no block: the copies are caught, 1-layer ones at least as often
    assert t > 0 and rec["recall_light"] >= rec["recall_copies"] > 0.5

    class OneCode:
        """A hasher that gives every graph the same code: every model looks like a copy of every other."""

        bits, version = 64, "one-code"
        config = WLHasher().config

        def encode(self, graphs):
            return np.zeros((len(graphs), 64), bool)

    assert calibrate_broad(OneCode(), items)["false_flags"] == 1.0


def test_zoo_train_trains_saves_and_calibrates_a_hasher(tmp_path, monkeypatch, family_items):
    from hnn_tf.cli import main
    from hnn_tf.hashing import load_hasher
    from hnn_tf.index.threshold import threshold_for
    from hnn_tf.zoo import generalisation

    items = family_items(families=4, depths=(8, 12, 16))
    monkeypatch.setattr(generalisation, "zoo_items", lambda sources=None: items)
    monkeypatch.setattr(generalisation, "TRAIN_EPOCHS", 3)
    monkeypatch.setattr(generalisation, "TRAIN_MIN_EPOCHS", 1)
    out = tmp_path / "h"
    r = CliRunner().invoke(main, ["zoo", "train", "--output", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    hasher = load_hasher(64, str(out))
    assert hasher.version in r.output and hasher.config.wl_buckets == generalisation.BROAD_SETTINGS[
        "structural-wl"]["wl_buckets"]
    assert hasher.config.categories == ("f0", "f1", "f2", "f3")
    saved = json.loads((out / "check_threshold.json").read_text())["calibrations"]
    assert list(saved) == [hasher.version] and saved[hasher.version]["zoo"] == "broad"
    assert threshold_for(64, hasher.version, str(out)).source == "calibrated"
    codes = hasher.encode([it.graph for it in items])
    assert codes.shape == (len(items), 64) and codes.dtype == bool
    bad = CliRunner().invoke(main, ["zoo", "train", "--method", "nope", "--output", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown trained method" in bad.output and not (tmp_path / "x").exists()
