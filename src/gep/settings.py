"""The one place configuration is read (environment prefix ``GEP_``).

Only ``gep.api``, ``gep.cli`` and worker start-up build :class:`Settings`; everything below
receives values, never reads the environment, so tests can run several configurations at once.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GEP_", extra="ignore")

    home: Path = Field(default=Path("./.gep"), description="Where embedded state lives")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty = SQLite in home")
    storage_url: str = Field(
        default="",
        description="Where GEP keeps its files: a folder (file:///…) or an S3 prefix "
        "(s3://bucket/prefix; credentials and region from the AWS_* variables); "
        "empty = home/storage",
    )
    s3_endpoint_url: str = Field(
        default="",
        description="Endpoint of an S3-compatible server (SeaweedFS, MinIO); empty = AWS",
    )
    s3_presigned_redirect: bool = Field(
        default=False,
        description="On S3 storage, answer asset downloads with a redirect to a presigned "
        "URL instead of streaming the bytes through GEP",
    )
    secret_key: str = Field(
        default="",
        description="Key of the HMAC that signs expiring asset URLs; empty = a random key kept "
        "in home/secret_key (made once)",
    )
    dask_scheduler: str = Field(default="", description="Dask scheduler; empty = LocalCluster")
    base_url: str = Field(default="", description="Public URL of the API (for links)")
    cors_origins: str = Field(
        default="*",
        description="Origins whose browser pages may call the API (CORS), separated by ','; "
        "'*' = any origin, without credentials (bearer tokens still work, cookies are not "
        "shared); named origins also get credentials (the session cookie); empty = no CORS",
    )
    ui_basemap_url: str = Field(
        default="",
        description="An online XYZ basemap the map offers beside its own offline one, e.g. "
        "'https://tile.openstreetmap.org/{z}/{x}/{y}.png'; empty = the shipped basemap only",
    )
    ui_basemap_attribution: str = Field(
        default="© OpenStreetMap contributors",
        description="The attribution the map shows with GEP_UI_BASEMAP_URL's tiles",
    )
    jobs_workers: int = Field(default=1, description="Workers of the embedded LocalCluster")
    jobs_max_attempts: int = Field(default=2, description="Runs of a job whose worker dies")
    jobs_timeout_s: float = Field(default=0.0, description="Per-job time limit; 0 = none")
    jobs_lease_s: float = Field(
        default=10.0,
        description="A running job whose worker has not "
        "renewed its lease for this long is re-queued (worker died)",
    )
    cwl_runtime: str = Field(
        default="auto",
        description="How CWL tools are confined: auto (docker or podman when one answers, "
        "else bubblewrap) | docker | podman | bwrap | none (on the host, unconfined: an "
        "administrator's explicit choice)",
    )
    data_roots: str = Field(
        default="",
        description="Folders outside storage whose files items may name as file:// hrefs "
        "(e.g. a mirror of SAFE products), separated by ':' or ','",
    )
    fetch_allow: str = Field(
        default="",
        description="Host patterns (fnmatch, optionally with :port) that remote hrefs may "
        "reach although they are loopback, link-local or private, separated by ','",
    )
    fetch_max_bytes: int = Field(
        default=1 << 30, description="Largest remote file a job downloads (bytes)"
    )
    fetch_timeout_s: float = Field(
        default=300.0, description="Longest a job's download of one remote file may take"
    )
    fetch_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Tries of one source (a mirror, a href) before the next is tried",
    )
    fetch_backoff_s: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Wait before a source's second try; doubled before each later one",
    )
    cache_max_bytes: int = Field(
        default=10 << 30,
        ge=0,
        description="Quota of the cache of remote inputs (bytes; least recently used entries "
        "not pinned by a queued or running job are evicted past it); 0 = no cache",
    )
    max_body_bytes: int = Field(
        default=16 << 20, description="Largest request body accepted (bytes); larger is 413"
    )
    upload_quota_bytes: int = Field(
        default=10 << 30,
        ge=0,
        description="Storage each user may fill with uploads (bytes, their files and open "
        "upload sessions together); an upload past it is 413",
    )
    jobs_max_sync_per_user: int = Field(
        default=4, description="Synchronous executions one user may have waiting at once"
    )
    jobs_max_queued_per_user: int = Field(
        default=100, description="Jobs (accepted or running) one user may have at once"
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "or Forwarded is believed, separated by ','; empty = none (the peer's address is the "
        "client's)",
    )
    sync_timeout_s: float = Field(
        default=60.0,
        description="How long a synchronous execute waits before answering with the job instead",
    )

    harvest_poll_s: float = Field(
        default=30.0,
        description="How often gep serve looks for scheduled harvests that are due; 0 = never",
    )
    subscriptions_poll_s: float = Field(
        default=2.0,
        ge=0,
        description="How often gep serve reads the ingestion log and the schedules for "
        "subscriptions (systematic production) and sends due webhooks; 0 = never",
    )
    retention_poll_s: float = Field(
        default=3600.0,
        ge=0,
        description="How often gep serve expires what collections' retention policies no "
        "longer keep (the first sweep a minute after start at most); 0 = never",
    )

    token: str = Field(
        default="",
        description="The API token the CLI's commands on a running server (gep jobs, "
        "gep processes deploy) send",
    )
    admin_token: str = Field(
        default="",
        description="An administrator's API token (gep_<id>_<secret>) made valid at start-up, "
        "for the operator's first steps and automation; empty = none",
    )
    session_hours: float = Field(default=12.0, description="Lifetime of a web login session")
    login_attempts: int = Field(
        default=5,
        description="Failed logins allowed per account per window, whatever the address "
        "(the right password from an address that has not failed still logs in)",
    )
    login_address_attempts: int = Field(
        default=20,
        description="Failed logins allowed per client address per window, "
        "whatever the account (password spraying)",
    )
    login_window_s: float = Field(default=300.0, description="The window of login_attempts")
    oidc_issuer: str = Field(
        default="", description="OpenID Connect issuer URL; empty = no OIDC login"
    )
    oidc_client_id: str = Field(default="", description="OIDC client id")
    oidc_client_secret: str = Field(default="", description="OIDC client secret")
    oidc_scope: str = Field(default="openid email profile", description="OIDC scopes asked")
    oidc_default_role: str = Field(
        default="user", description="Role of users created at their first OIDC login"
    )
    provider: str = Field(
        default="local",
        description="Name of this cluster in usage accounting (jobs on several clusters)",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'gep.db').resolve()}"

    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.home / "storage").resolve().as_uri()
