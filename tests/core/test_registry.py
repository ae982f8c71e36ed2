"""The registry's rule for what a model version was trained on: its run's dataset tags."""

from __future__ import annotations

from dataclasses import replace

from core import registry


def test_a_registered_version_says_which_dataset_version_it_was_trained_on(trained_settings) -> None:
    info = registry.get_version(trained_settings, "rice", 1)
    assert registry.trained_on(info) == ("rice", 1)
    assert info.tags.items() >= registry.dataset_tags("rice", 1).items()
    # a run without the tags: the model's own name, no version number
    assert registry.trained_on(replace(info, tags={})) == ("rice", None)
