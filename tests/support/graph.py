"""The app's Graph sign-in and sleep, set up against the local fake Graph (tests/fakes/graph.py)."""

from __future__ import annotations

from collections.abc import Callable

from bot.graph import GraphTokens
from tests.fakes.graph import FakeGraph


def graph_tokens(
    fake: FakeGraph,
    *,
    secret: str | None = None,
    tenant: str | None = None,
    monotonic: Callable[[], float] | None = None,
) -> GraphTokens:
    """Sign-in against ``fake``: its app, tenant, secret and CA unless ``secret`` or ``tenant`` differ."""
    return GraphTokens(
        fake.client_id,
        tenant_id=tenant or fake.tenant_id,
        authority_host=fake.authority,
        secret=fake.client_secret if secret is None else secret,
        ca_bundle=str(fake.ca_path),
        **({"monotonic": monotonic} if monotonic is not None else {}),
    )


class Sleeps:
    """The Graph client's injected sleep: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
