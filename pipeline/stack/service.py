"""What the stack reports about one local service."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    running: bool
    healthy: bool
    version: str
    pid: int | None
    rss_mb: float | None
    log: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
