"""A service's processes start at the same moment: schema set-up must not race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from services.runtime.settings import HubSettings
from tests.helpers import close_app, foreigners_authority


def test_many_processes_building_the_same_event_store_at_once_all_succeed(
    settings: HubSettings,
) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        apps = list(pool.map(lambda _: foreigners_authority(settings, pool_size=1), range(6)))

    for app in apps:
        assert app.recorder.max_notification_id() in (None, 0)
        close_app(app)
