"""Upload the dashboards to a running Grafana through its HTTP API (grafana-client).

Idempotent: the folder is created only when its uid is missing, and each dashboard is saved by
uid with ``overwrite``, so pushing twice leaves Grafana as pushing once (plus a version).
Endpoints used: ``GET/POST /api/folders``, ``POST /api/dashboards/db``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException
from niquests.exceptions import RequestException

from dashboards.provisioning import FOLDER_TITLE, FOLDER_UID
from pipeline.errors import Chiso766Error

TOKEN_ENV = "CHISO766_GRAFANA_TOKEN"


class PushError(Chiso766Error):
    """Grafana refused or could not be reached."""


@dataclass(frozen=True)
class Pushed:
    uid: str
    title: str
    version: int | None
    url: str | None


def push_dashboards(
    grafana_url: str, token: str, dashboards: Sequence[dict[str, Any]], timeout_s: float = 10.0
) -> tuple[bool, list[Pushed]]:
    """Create the folder "Chỉ số 766" if needed and save every rendered dashboard into it.

    Returns (folder created?, one ``Pushed`` per dashboard). Raises PushError naming the step."""
    api = GrafanaApi.from_url(grafana_url, credential=token, timeout=timeout_s)
    created = False
    try:
        try:
            api.folder.get_folder(FOLDER_UID)
        except GrafanaClientError as error:
            if error.status_code != 404:
                raise
            api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            created = True
        pushed = []
        for dashboard in dashboards:
            answer = api.dashboard.update_dashboard(
                {
                    "dashboard": {**dashboard, "id": None},
                    "folderUid": FOLDER_UID,
                    "overwrite": True,
                    "message": "chiso766 dashboards push",
                }
            )
            pushed.append(
                Pushed(
                    dashboard["uid"], dashboard["title"], answer.get("version"), answer.get("url")
                )
            )
    except GrafanaException as error:
        raise PushError(f"Grafana at {grafana_url}: {error}") from error
    except RequestException as error:
        raise PushError(f"Grafana at {grafana_url} is not reachable: {error}") from error
    return created, pushed
