import json

import numpy as np
import pytest

from hybrid.export import RunFormatError, load_run, save_network, save_run

SPEC = {
    "kind": "network",
    "preprocessing": {"scale": 1.0, "input_shape": [2]},
    "class_names": ["a", "b"],
}


def test_round_trip_records_shapes_checksum_and_versions(tmp_path):
    arrays = {"w0": np.arange(6.0).reshape(2, 3), "w1": np.ones(3)}
    save_run(tmp_path, arrays, SPEC | {"note": "x"})
    spec, loaded = load_run(tmp_path)
    assert spec["note"] == "x" and spec["weights"] == {"w0": [2, 3], "w1": [3]}
    assert len(spec["weights_sha256"]) == 64 and "numpy" in spec["versions"]
    for name in arrays:
        np.testing.assert_array_equal(loaded[name], arrays[name])


def test_missing_spec_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match="class_names"):
        save_run(tmp_path, {}, {"kind": "network", "preprocessing": {}})


def test_tampered_truncated_and_missing_files_are_refused(tmp_path):
    save_run(tmp_path, {"w0": np.ones(100)}, SPEC)
    weights = tmp_path / "weights.npz"
    blob = bytearray(weights.read_bytes())
    blob[-30] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(RunFormatError, match="sha256"):
        load_run(tmp_path)
    weights.write_bytes(bytes(blob[: len(blob) // 2]))
    with pytest.raises(RunFormatError, match="sha256"):
        load_run(tmp_path)
    weights.unlink()
    with pytest.raises(RunFormatError, match="not found"):
        load_run(tmp_path)


def test_damaged_or_foreign_spec_is_refused(tmp_path):
    save_run(tmp_path, {"w0": np.ones(3)}, SPEC)
    spec_path = tmp_path / "model.json"
    spec_path.write_text(spec_path.read_text()[:40])
    with pytest.raises(RunFormatError, match="not valid JSON"):
        load_run(tmp_path)
    spec_path.write_text(json.dumps({"format": "other/9"}))
    with pytest.raises(RunFormatError, match="format"):
        load_run(tmp_path)


def test_recorded_shapes_must_match_the_weights(tmp_path):
    save_run(tmp_path, {"w0": np.ones(3)}, SPEC)
    spec_path = tmp_path / "model.json"
    spec = json.loads(spec_path.read_text())
    spec["weights"] = {"w0": [4]}
    spec_path.write_text(json.dumps(spec))
    with pytest.raises(RunFormatError, match="records"):
        load_run(tmp_path)


def test_save_network_cuts_the_flat_vector_per_layer(tmp_path):
    layers = [{"type": "dense", "units": 2}]
    save_network(
        tmp_path,
        layers,
        [3],
        np.arange(8.0),
        preprocessing=SPEC["preprocessing"],
        class_names=["a", "b"],
    )
    spec, arrays = load_run(tmp_path)
    assert spec["architecture"] == {"layers": layers, "input_shape": [3]}
    np.testing.assert_array_equal(arrays["w1"], [6.0, 7.0])
