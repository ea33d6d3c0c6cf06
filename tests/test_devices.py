import pytest

from hybrid import devices


def test_shipped_profiles_name_their_gradient_method():
    found = devices.profiles()
    assert {"default.qubit", "lightning.qubit", "lightning.kokkos", "lightning.gpu"} <= set(found)
    assert found["default.qubit"].gradient == "backprop"
    assert found["lightning.qubit"].gradient == "adjoint"


def test_auto_means_one_thing_the_route_for_the_circuits_size():
    for n in (4, devices.CPU_CROSSOVER):
        assert devices.resolve("auto", n) == devices.Route(*devices.auto_route(n))
    with pytest.raises(ValueError, match="resolve"):
        devices.get("auto")


def test_auto_falls_back_from_the_gpu():
    if devices.is_available("lightning.gpu"):
        pytest.skip("a GPU is present: auto rightly picks lightning.gpu")
    assert devices.resolve("auto", 20).profile.device != "lightning.gpu"


def test_a_named_device_that_cannot_run_here_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(devices, "unavailable_reason", lambda d: "ImportError: no such plugin")
    with pytest.raises(ValueError, match="lightning.kokkos is not available here .ImportError"):
        devices.resolve("lightning.kokkos", 4)


@pytest.mark.skipif(not devices.is_available("lightning.gpu"), reason="no lightning.gpu here")
def test_gpu_profile_makes_a_device():
    assert devices.make(devices.get("lightning.gpu"), 4).name == "lightning.gpu"


def test_profile_from_a_toml_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('device = "default.qubit"\ngradient = "parameter-shift"\nshots = 1000\n')
    profile = devices.get(str(path))
    assert (profile.name, profile.shots, profile.gradient) == ("mine", 1000, "parameter-shift")


@pytest.mark.parametrize(
    "text, message",
    [
        ('device = "default.qubit"\ngradient = "magic"', "gradient must be"),
        ('device = "default.qubit"\ngradient = "adjoint"\nshots = 10', "analytic"),
        ('gradient = "adjoint"', "needs 'device'"),
        ('device = "default.qubit"\ngradient = "backprop"\nwires = 3', "unknown keys"),
        ("device = ", "not valid TOML"),
    ],
)
def test_bad_profiles_are_refused_clearly(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        devices.get(str(path))


def test_unknown_names_list_the_known_profiles():
    with pytest.raises(ValueError, match="known:.*lightning.qubit"):
        devices.get("ibm.eagle")
    with pytest.raises(FileNotFoundError):
        devices.get("missing.toml")


def _cpu_only(monkeypatch, lightning_gpu=False, jax_gpu=None):
    real = devices.is_available
    monkeypatch.setattr(
        devices, "is_available", lambda d: lightning_gpu if d == "lightning.gpu" else real(d)
    )
    monkeypatch.setattr(devices, "jax_gpu", lambda: jax_gpu)
    monkeypatch.setattr(devices, "jax_gpu_plugin", lambda: jax_gpu is not None)


def test_auto_on_cpu_takes_the_route_measured_fastest_for_the_size(monkeypatch):
    _cpu_only(monkeypatch)
    small, why_small = devices.auto_route(devices.CPU_CROSSOVER - 1)
    large, why_large = devices.auto_route(devices.CPU_CROSSOVER)
    assert (small.name, small.gradient) == ("jax", "reversible")
    assert (large.name, large.gradient) == ("lightning.qubit", "adjoint")
    assert "CPU" in why_small and "CPU" in why_large


def test_auto_takes_jax_on_a_gpu_jax_sees_and_lightning_gpu_first(monkeypatch):
    _cpu_only(monkeypatch, jax_gpu="gpu: NVIDIA H200")
    for n in (10, 26):
        profile, why = devices.auto_route(n)
        assert profile.name == "jax" and "NVIDIA H200" in why
    _cpu_only(monkeypatch, lightning_gpu=True, jax_gpu="gpu: NVIDIA H200")
    assert devices.auto_route(20)[0].name == "lightning.gpu"


def test_resolve_says_what_runs_and_why(monkeypatch):
    _cpu_only(monkeypatch)
    route = devices.resolve("auto", 8)
    assert route.profile.name == "jax" and "CPU" in route.reason
    assert devices.resolve(route, 30) is route
    assert devices.resolve("lightning.qubit", 8) == devices.Route(
        devices.get("lightning.qubit"), "profile lightning.qubit asked for"
    )


def test_jax_gpu_names_the_device_or_none():
    import jax

    found = devices.jax_gpu()
    assert (found is None) == (jax.default_backend() == "cpu")


def test_an_installed_gpu_plugin_without_its_gpu_is_not_available(monkeypatch):
    """``hybrid devices`` reads package metadata, but installed is not usable for a device that
    also needs hardware: its reason is the creation's failure, not None."""
    from importlib import metadata

    class EntryPoint:
        name = "lightning.gpu"

    monkeypatch.setattr(metadata, "entry_points", lambda group: [EntryPoint()])
    monkeypatch.setattr(devices, "creation_problem", lambda d: "RuntimeError: no CUDA device")
    devices.unavailable_reason.cache_clear()
    try:
        assert devices.unavailable_reason("lightning.gpu") == "RuntimeError: no CUDA device"
        assert not devices.is_available("lightning.gpu")
    finally:
        devices.unavailable_reason.cache_clear()


def test_a_missing_cuda_library_is_named_with_its_package(monkeypatch):
    """lightning.gpu's wheel without the CUDA-12 runtime raises "pre-compiled binaries are not
    available"; the library it could not open is only in a warning (as pennylane-lightning-gpu
    0.45.0 does here, installed without its dependencies)."""
    import warnings

    assert devices.missing_library(["something else"]) is None
    named = devices.missing_library(
        ["libcudart.so.12: cannot open shared object file: No such file or directory"]
    )
    assert named.startswith("libcudart.so.12 is missing: pip install nvidia-cuda-runtime-cu12 ")

    class FakeQml:
        @staticmethod
        def device(name, wires):
            warnings.warn("libcustatevec.so.1: cannot open shared object file", stacklevel=2)
            raise ImportError("Pre-compiled binaries for lightning.gpu are not available.")

    monkeypatch.setattr(devices, "_qml", lambda: FakeQml)
    devices.creation_problem.cache_clear()
    try:
        assert devices.creation_problem("lightning.gpu") == (
            "ImportError: libcustatevec.so.1 is missing: pip install custatevec-cu12 "
            "(or pip install -e '.[gpu]')"
        )
    finally:
        devices.creation_problem.cache_clear()
