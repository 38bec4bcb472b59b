"""Session fixtures: one real Asterisk for the whole test session, reset between tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy

from engine.pbx.control import PbxControl
from engine.pbx.credentials import load_or_create
from engine.pbx.install import asterisk_version
from engine.prompts.build import build_prompts
from engine.settings import Settings, load_settings
from engine.store.database import make_engine
from engine.store.migrate import upgrade
from tests.pbx.harness import Controller, settings_toml


@dataclass
class Pbx:
    settings: Settings
    config_file: Path
    control: PbxControl

    def controller(self) -> Controller:
        return Controller(self.config_file, self.settings)

    def journal(self) -> sqlalchemy.Engine:
        return make_engine(self.settings.db_url)


@pytest.fixture(scope="session")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    base = load_settings(environ={})
    if asterisk_version(base.pbx.root) is None:
        pytest.fail(f"the managed PBX is not installed in {base.pbx.root}: run `make setup`")
    data_dir = tmp_path_factory.mktemp("hotline-data")
    config_file = data_dir / "hotline.toml"
    config_file.write_text(settings_toml(data_dir, f"t{os.getpid()}"))
    settings = load_settings(config_file, environ={})
    control = PbxControl(settings, load_or_create(settings.data_dir))
    build_prompts(control.layout.prompt_dir)
    upgrade(settings.db_url)
    control.start(lambda line: None)
    try:
        yield Pbx(settings, config_file, control)
    finally:
        control.stop()
        for folder in control.layout.instance_dirs():
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def clean_pbx(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every PBX test starts and ends with no channels left over."""
    yield
    if "pbx" in request.fixturenames:
        pbx: Pbx = request.getfixturevalue("pbx")
        if pbx.control.is_running():
            pbx.control.cli("channel request hangup all")
