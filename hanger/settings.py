"""Settings, from the environment (prefix ``HANGER_``) or a ``.env`` file, validated at start-up.

One frozen :class:`Settings` object is built by the composition root (:mod:`hanger.bootstrap`) and
passed down; nothing reads the environment anywhere else. Secrets are ``SecretStr`` and never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HANGER_", env_file=".env", extra="ignore", frozen=True
    )

    # --- Kafka -----------------------------------------------------------------------------------
    kafka_bootstrap: str = Field(
        default="", description="Kafka bootstrap servers, comma separated (default: the local "
        "broker of `hanger dev up`, 127.0.0.1:<kafka_port>)."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = (
        "PLAINTEXT"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_session_timeout_s: float = Field(
        default=15.0, ge=6, le=300,
        description="How long a silent consumer keeps its partitions: a crashed worker's partitions "
        "move after this (the restarted one waits for it). Heartbeats every third of it.",
    )
    topic_prefix: str = Field(
        default="",
        description="Prepended to every topic name (e.g. 'staging.'); tests use a unique one each.",
    )
    topic_partitions: int = Field(default=6, ge=1, description="Default partitions per topic.")
    topic_replication: int = Field(default=1, ge=1)
    consumer_group_prefix: str = "hanger"
    max_message_bytes: int = Field(default=1_048_576, ge=1024)

    # --- PostgreSQL ------------------------------------------------------------------------------
    database_url: SecretStr = Field(
        default=SecretStr(""),
        description="asyncpg DSN (default: the local server of `hanger dev up`, "
        "postgresql://hanger@127.0.0.1:<postgres_port>/hanger). Add ?sslmode=verify-full for TLS.",
    )
    database_pool_size: int = Field(default=5, ge=1, le=100)
    database_timeout_s: float = Field(
        default=30.0, gt=0, description="Per query and per connection attempt; a timeout is transient."
    )

    # --- Local development infrastructure (hanger dev up) ----------------------------------------
    state_dir: Path = Field(
        default=Path(".hanger"), description="Local broker/database data, pids and logs."
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "hanger",
        description="Downloaded Kafka jars (outside the repo, reused across clones).",
    )
    kafka_version: str = "3.9.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    postgres_port: int = 15432
    kafka_heap: str = "512m"

    # --- Enrichment ------------------------------------------------------------------------------
    model_path: Path | None = Field(default=None, description="ONNX model; default: committed.")
    shadow_model_path: Path | None = Field(
        default=None, description="A candidate ONNX model run beside the live one; its results "
        "are stored (classification.shadow) for comparison, never routed or published.",
    )
    inference_threads: int = Field(
        default=1, ge=1, description="ONNX Runtime intra-op threads per inference worker thread."
    )
    inference_workers: int = Field(
        default=2, ge=1, description="Inference threads per worker process (sessions run in "
        "parallel; ORT releases the GIL). workers × threads ≈ cores is the sweet spot.",
    )
    auto_approve_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Override the model card's ≥99 % threshold; 1 turns "
        "auto-approval off."
    )
    image_root: Path = Field(
        default=Path("."), description="file:// image URIs must resolve inside this folder."
    )
    image_max_bytes: int = Field(default=20_000_000, ge=1)
    image_fetch_timeout_s: float = Field(default=10.0, gt=0)
    image_fetch_attempts: int = Field(
        default=3, ge=1, description="Tries per http(s) image before it counts as unreachable."
    )
    image_fetch_retry_s: float = Field(default=0.5, ge=0, description="First retry delay (doubles).")
    image_allow_private_hosts: bool = Field(
        default=False, description="Allow http(s) images on loopback/private/link-local hosts."
    )
    worker_id: str = Field(
        default="0",
        description="Stable id of this worker slot (one per process in a consumer group); "
        "names its Kafka transactional id so a restart fences the crashed predecessor.",
    )
    max_in_flight: int = Field(default=16, ge=1, description="Bounded concurrent submissions.")
    batch_timeout_s: float = Field(
        default=120.0, gt=0,
        description="An enrichment batch attempt that takes longer is abandoned as transient and "
        "retried (a stuck connection must not hang the worker).",
    )
    metrics_port: int | None = Field(default=None, description="Prometheus endpoint port.")

    # --- Retry policy for transient errors -------------------------------------------------------
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=10.0, gt=0)
    retry_attempts: int = Field(default=8, ge=1)

    # --- Care-label OCR (inference.ocr) ------------------------------------------------------------
    ocr_enabled: bool = Field(default=True, description="Run the care-label OCR stage in the stream.")
    ocr_roles: str = Field(
        default="label,detail",
        description="Image roles the stream reads text from (comma separated: label, detail, main).",
    )
    classify_max_images: int = Field(
        default=4, ge=1, le=50,
        description="Garment photos classified per submission (main first, then the others in "
        "order; care-label photos never): bounds the cost of a listing with dozens of images.",
    )
    ocr_workers: int = Field(default=1, ge=1, le=16, description="OCR threads per enrich worker.")
    ocr_max_images: int = Field(
        default=4, ge=1, le=50,
        description="Images read per submission (label photos first, then the others in order).",
    )
    ocr_timeout_s: float = Field(
        default=10.0, gt=0, description="Time box per image for care-label OCR; past it the reading "
        "is returned partial (timed_out=true).",
    )
    ocr_prohibited_words_path: Path | None = Field(
        default=None, description="Prohibited/abusive word list, one a line (default: the list "
        "shipped in inference/ocr/prohibited_words.txt).",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _local_database_by_default(self) -> Settings:
        if not self.kafka_bootstrap.strip():
            object.__setattr__(self, "kafka_bootstrap", f"127.0.0.1:{self.kafka_port}")
        if not self.database_url.get_secret_value():
            dsn = f"postgresql://hanger@127.0.0.1:{self.postgres_port}/hanger"
            object.__setattr__(self, "database_url", SecretStr(dsn))
        return self


    def topic(self, base: str) -> str:
        """The real topic name for a registry name (applies the prefix)."""
        return f"{self.topic_prefix}{base}"

    def group(self, worker: str) -> str:
        return f"{self.consumer_group_prefix}.{self.topic_prefix}{worker}"

    def kafka_client_options(self) -> dict[str, object]:
        """Connection options shared by every aiokafka client we build."""
        options: dict[str, object] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
            )
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(
                cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None
            )
        return options
