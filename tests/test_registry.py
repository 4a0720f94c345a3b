"""Plugin discovery: isolation of broken plugins, catalog hints, validation."""

from __future__ import annotations

import importlib.metadata as md

import pytest

from xalign.errors import PluginBrokenError, PluginNotInstalledError, UnknownNameError
from xalign.modality import Modality
from xalign.registry import Registry


def ep(name: str, module: str) -> md.EntryPoint:
    return md.EntryPoint(name=name, value=f"tests.fixture_plugins.{module}", group="xalign")


def test_broken_plugins_never_stop_the_good_one() -> None:
    registry = Registry(strict=False).discover([
        ep("bad_import", "broken_import"),
        ep("toy", "good"),
        ep("bad_register", "broken_register"),
        ep("typo", "typo_hook"),
    ])
    assert registry.names() == ["toy"]
    status = {name: info.status for name, info in registry.plugins.items()}
    assert status == {"bad_import": "broken", "toy": "ok", "bad_register": "broken",
                      "typo": "broken"}
    assert "boom at import" in registry.plugins["bad_import"].error
    assert "expects a Modality" in registry.plugins["bad_register"].error
    assert "register_modality" in registry.plugins["typo"].error
    # the good plugin works end to end
    toy = registry.get("toy")
    encoder = registry.build_encoder("toy")
    features = encoder(encoder.spec.preprocess(toy.synthesize(3).raw, False))
    assert features.shape == (1, 2, 4)
    assert registry.plugins["toy"].encoders == ["toy/tiny"]


def test_strict_mode_reraises() -> None:
    with pytest.raises(PluginBrokenError, match="boom at import"):
        Registry(strict=True).discover([ep("bad_import", "broken_import")])


def test_missing_catalogued_modality_names_the_install_line() -> None:
    registry = Registry().discover([])
    with pytest.raises(PluginNotInstalledError) as info:
        registry.get("3d")
    assert "pip install xalign-plugin-3d" in str(info.value)


def test_unknown_modality_suggests_closest() -> None:
    registry = Registry().discover([ep("toy", "good")])
    with pytest.raises(UnknownNameError, match="did you mean 'audio'") as info:
        registry.get("audoi")
    assert "toy" in str(info.value)


def test_broken_catalogued_plugin_reports_broken_not_missing() -> None:
    registry = Registry().discover([ep("audio", "audio_shadow")])
    with pytest.raises(PluginBrokenError, match="encoder weights missing"):
        registry.get("audio")


def test_duplicate_modality_is_rejected() -> None:
    registry = Registry().discover([ep("toy", "good")])
    from tests.fixture_plugins import good

    class Again:  # a second plugin object providing the same modality
        register_modalities = staticmethod(good.register_modalities)

    info = registry.add_plugin(Again(), "toy_again")
    assert info.status == "broken" and "already provided" in info.error


def test_load_plugins_env_restricts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XALIGN_LOAD_PLUGINS", "toy")
    registry = Registry().discover([ep("bad_import", "broken_import"), ep("toy", "good")])
    assert list(registry.plugins) == ["toy"]


def test_modality_validation_lists_problems() -> None:
    from tests.fixture_plugins.good import TOY

    with pytest.raises(ValueError, match="cue must be") as info:
        Modality(**{**TOY.__dict__, "cue": "", "extensions": ("wav",)})
    assert "extensions" in str(info.value)


def test_broken_encoder_registration_breaks_only_its_plugin() -> None:
    registry = Registry().discover([ep("toy", "good"), ep("bad_encoder", "broken_encoder")])
    info = registry.plugins["bad_encoder"]
    assert info.status == "broken" and "expects an Encoder" in info.error
    # nothing of the broken plugin is kept, not even its valid modality
    assert registry.names() == ["toy"] and "bad_encoder" not in registry.encoders


def test_unknown_encoder_id_suggests_closest() -> None:
    registry = Registry().discover([ep("toy", "good")])
    with pytest.raises(UnknownNameError, match="did you mean 'tiny'") as info:
        registry.encoder("toy", "tinny")
    assert "choices: tiny, toy-v0" in str(info.value)


def test_encoder_refs_resolve_ids_aliases_and_sources() -> None:
    registry = Registry().discover([ep("toy", "good")])
    assert registry.resolve("toy") == (registry.encoders["toy"]["tiny"], None)
    assert registry.resolve("toy", "toy-v0")[0].id == "tiny"  # an older release's id
    assert registry.resolve("toy", "tiny@/weights/x")[1] == "/weights/x"
    built = registry.build_encoder("toy", "toy-v0")
    assert built.encoder_id == "tiny" and built.spec is registry.encoders["toy"]["tiny"]


def test_duplicate_encoder_id_is_rejected() -> None:
    from tests.fixture_plugins import good

    registry = Registry().discover([ep("toy", "good")])

    class Again:
        register_encoders = staticmethod(good.register_encoders)

    info = registry.add_plugin(Again(), "toy_again")
    assert info.status == "broken" and "'toy/tiny' is already taken (plugin 'toy')" in info.error


def test_unknown_projector_kind_suggests_closest() -> None:
    registry = Registry().discover([])
    with pytest.raises(UnknownNameError, match="did you mean 'qformer'"):
        registry.projector_class("qformr")
