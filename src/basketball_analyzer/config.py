"""Settings from environment variables and a `.env` file in the working directory."""

from __future__ import annotations

from enum import Enum
from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .exceptions import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///basketball_analyzer.db"


class DetectorName(str, Enum):
    """Which detection backend to use. `auto` picks SAM 3 when a model and a GPU are present, else `ssd`."""

    auto = "auto"
    ssd = "ssd"
    hog = "hog"
    sam3 = "sam3"


class Settings(BaseSettings):
    """Every setting `bball` and the workers read. Secrets are `SecretStr` and never print."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL)

    r2_account_id: str | None = None
    r2_access_key_id: SecretStr | None = None
    r2_secret_access_key: SecretStr | None = None
    r2_bucket_name: str = "basketball-analyzer"
    r2_endpoint_url: str | None = None
    r2_region: str = "auto"

    cloud_worker_poll_interval: float = Field(default=10.0, gt=0)
    cloud_worker_max_poll_interval: float = Field(default=60.0, gt=0)
    cloud_lease_seconds: float = Field(default=120.0, gt=0)
    cloud_max_attempts: int = Field(default=3, ge=1)
    # A cloud worker uploads its results in parts of this many video frames; a takeover resumes after the
    # last part (0: one results file at the end, no resume).
    cloud_part_frames: int = Field(default=3000, ge=0)
    # How often an idle cloud worker re-creates lost queue markers (docs/cloud.md: reconciliation).
    cloud_reconcile_interval: float = Field(default=300.0, gt=0)
    cloud_model_path: str = "/models/sam3"
    # Caps an import checks before it writes anything (docs/cloud.md, "Bad input"): a crafted or broken
    # results file cannot fill the database or the disk. A 2-hour game is about 2M rows and 25 MB.
    results_max_bytes: int = Field(default=1024**3, ge=1)
    results_max_rows_per_frame: int = Field(default=500, ge=1)
    manifest_max_bytes: int = Field(default=1024**2, ge=1024)
    # The CPU detector (detection/ssd.py): also look at the frame's two halves, which finds more small
    # players (docs/benchmarks.md) for 2.5x the time.
    ssd_tiles: bool = True
    # SAM 3 (detection/sam3.py, docs/sam3.md): one pruned session per video, so no window settings.
    sam3_device: str = "auto"
    sam3_dtype: str = "auto"
    sam3_masks: bool = False
    sam3_cross_prompt_iou: float = Field(default=0.7, gt=0, le=1)
    sam3_max_objects: int = Field(default=0, ge=0)  # 0: the model's own cap (10,000)

    # The web app (`bball serve`, docs/web.md): a token is required on any address but loopback.
    web_token: SecretStr | None = None
    web_max_upload_mb: int = Field(default=8192, ge=1)
    web_upload_dir: str = "bball-uploads"

    use_external_worker: bool = False
    detector: DetectorName = DetectorName.auto
    worker_id: str | None = None
    single_job: bool = False

    @field_validator("r2_account_id", "r2_endpoint_url", "worker_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def r2_endpoint(self) -> str | None:
        """The S3 endpoint: R2_ENDPOINT_URL if set, else the account's R2 endpoint, else None."""
        if self.r2_endpoint_url:
            return self.r2_endpoint_url.rstrip("/")
        if self.r2_account_id:
            return f"https://{self.r2_account_id}.r2.cloudflarestorage.com"
        return None

    @property
    def cloud_configured(self) -> bool:
        """True when every setting the bucket needs is present."""
        return not self.missing_cloud_settings()

    def missing_cloud_settings(self) -> list[str]:
        """Names of the environment variables still needed to reach the bucket."""
        missing = []
        if not self.r2_endpoint:
            missing.append("R2_ACCOUNT_ID (or R2_ENDPOINT_URL)")
        if not self.r2_access_key_id or not self.r2_access_key_id.get_secret_value():
            missing.append("R2_ACCESS_KEY_ID")
        if not self.r2_secret_access_key or not self.r2_secret_access_key.get_secret_value():
            missing.append("R2_SECRET_ACCESS_KEY")
        if not self.r2_bucket_name:
            missing.append("R2_BUCKET_NAME")
        return missing

    def require_cloud(self) -> None:
        """Raise `ConfigError` naming every missing cloud variable."""
        missing = self.missing_cloud_settings()
        if missing:
            raise ConfigError("cloud storage is not configured: set " + ", ".join(missing))


def load_settings(**overrides) -> Settings:
    """Read settings now (environment and `.env`), turning validation errors into one `ConfigError` line."""
    from pydantic import ValidationError

    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"invalid setting {name}: {first['msg']}") from None
    _register_secrets(settings)
    return settings


def _register_secrets(settings: Settings) -> None:
    """Tell the log redactor about secrets that may have come from `.env`, not the environment."""
    from urllib.parse import unquote, urlsplit

    from .logs import add_secret

    for secret in (settings.r2_access_key_id, settings.r2_secret_access_key, settings.web_token):
        if secret is not None:
            add_secret(secret.get_secret_value())
    try:
        password = urlsplit(settings.database_url).password
    except ValueError:  # an unparseable URL is reported where it is used
        password = None
    if password:
        add_secret(unquote(password))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process."""
    return load_settings()
