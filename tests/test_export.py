import json

import numpy as np
import pytest

from hybrid.deploy.runs import (
    RECORD_KEY,
    RunFormatError,
    atomic_write,
    load_run,
    npz_bytes,
    record_sha256,
    save_network,
    save_run,
)

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
    with pytest.raises(RunFormatError, match="edited"):
        load_run(tmp_path)
    spec[RECORD_KEY] = record_sha256(spec, (tmp_path / "weights.npz").read_bytes())
    spec_path.write_text(json.dumps(spec))  # a consistent record that still lies about shapes
    with pytest.raises(RunFormatError, match="records"):
        load_run(tmp_path)


def _edit(spec: dict, change: str) -> None:
    if change == "mean digit":
        spec["preprocessing"]["mean"][0] += 0.1
    elif change == "relu to tanh":
        spec["architecture"]["layers"][1]["type"] = "tanh"
    elif change == "reversed class names":
        spec["class_names"].reverse()
    elif change == "kind":
        spec["kind"] = "kernel"
    elif change == "no class_names":
        del spec["class_names"]
    elif change == "pretty-printed differently":
        return  # re-serialised below with other whitespace and key order: the same record


@pytest.mark.parametrize(
    "change",
    [
        "mean digit",
        "relu to tanh",
        "reversed class names",
        "kind",
        "no class_names",
        "pretty-printed differently",
    ],
)
def test_any_edit_of_model_json_is_refused(tmp_path, change):
    layers = [{"type": "dense", "units": 3}, {"type": "relu"}, {"type": "dense", "units": 2}]
    prep = {"scale": 1.0, "mean": [0.5, -0.5], "std": [2.0, 1.0], "input_shape": [2]}
    save_network(tmp_path, layers, [2], np.arange(17.0), preprocessing=prep, class_names=["a", "b"])
    spec_path = tmp_path / "model.json"
    spec = json.loads(spec_path.read_text())
    _edit(spec, change)
    spec_path.write_text(json.dumps(dict(reversed(list(spec.items()))), indent=4))
    if change == "pretty-printed differently":
        assert load_run(tmp_path)[0] == spec
        return
    with pytest.raises(RunFormatError, match="edited after export"):
        load_run(tmp_path)


def test_previous_format_is_read_only_while_its_weights_verify(tmp_path):
    save_run(tmp_path, {"w0": np.ones(3)}, SPEC)
    spec_path = tmp_path / "model.json"
    spec = json.loads(spec_path.read_text())
    del spec[RECORD_KEY]
    spec["format"] = "hybrid-run/1"
    spec_path.write_text(json.dumps(spec))
    assert load_run(tmp_path)[0]["class_names"] == ["a", "b"]
    spec_path.write_text(json.dumps({k: v for k, v in spec.items() if k != "class_names"}))
    with pytest.raises(RunFormatError, match="records no class_names"):
        load_run(tmp_path)
    spec_path.write_text(json.dumps(spec | {"class_names": ["a"]}))
    with pytest.raises(RunFormatError, match="at least 2 distinct"):
        load_run(tmp_path)
    spec_path.write_text(json.dumps(spec))
    (tmp_path / "weights.npz").write_bytes(npz_bytes({"w0": np.zeros(3)}))
    with pytest.raises(RunFormatError, match="sha256"):
        load_run(tmp_path)


def test_atomic_write_uses_its_own_temporary_file(tmp_path):
    target = tmp_path / "weights.npz"
    for stale in ("weights.npz.tmp", "weights.npz.tmp.npz"):  # names a fixed-name writer used
        (tmp_path / stale).mkdir()
    atomic_write(target, b"first")
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "weights.npz",
        "weights.npz.tmp",
        "weights.npz.tmp.npz",
    ]


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
