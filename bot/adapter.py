"""A botbuilder adapter whose connector is our aiohttp client.

botbuilder's CloudAdapter answers every Action.Execute invoke with HTTP 500 (it serialises the
invoke response twice) and sends through msrest/requests in a small thread pool. This adapter
keeps botbuilder's TurnContext pipeline and does the I/O itself.
"""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationReference, ResourceResponse

from bot.connector import ConnectorClient, ConnectorError

log = logging.getLogger(__name__)

INVOKE_RESPONSE_KEY = BotAdapter._INVOKE_RESPONSE_KEY
REPLY_ATTEMPTS = 3


class TapaamoAdapter(BotAdapter):  # type: ignore[misc]  # botbuilder has no type hints
    def __init__(self, connector: ConnectorClient) -> None:
        super().__init__()
        self.connector = connector

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        responses = []
        for activity in activities:
            if activity.type == ActivityTypes.invoke_response:
                context.turn_state[INVOKE_RESPONSE_KEY] = activity
                responses.append(ResourceResponse(id=""))
                continue
            body = activity.serialize()
            sent = await self._with_retry(
                self.connector.send,
                activity.service_url,
                activity.conversation.id,
                body,
                activity.reply_to_id,
            )
            responses.append(ResourceResponse(id=sent.id or ""))
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse:
        sent = await self._with_retry(
            self.connector.update,
            activity.service_url,
            activity.conversation.id,
            activity.id,
            activity.serialize(),
        )
        return ResourceResponse(id=sent.id or activity.id)

    async def delete_activity(self, context: TurnContext, reference: ConversationReference) -> None:
        await self.connector.delete(reference.service_url, reference.conversation.id, reference.activity_id)

    @staticmethod
    async def _with_retry(call: Any, *args: Any) -> Any:
        # A reply is answered inside the turn: a short retry only; long waits belong to the jobs.
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                return await call(*args)
            except ConnectorError as error:
                if not error.retryable or attempt == REPLY_ATTEMPTS:
                    raise
                import asyncio

                await asyncio.sleep(min(error.retry_after or 0.2 * 2**attempt, 2.0))
        raise AssertionError("unreachable")
