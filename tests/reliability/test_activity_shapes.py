"""Property (hypothesis): whatever shape an activity's own fields take, the answer is 2xx or 4xx.

Method: the app of test_properties.py (in process, seeded with a network, sessions, a poll), and
activities whose envelope is varied field by field: ``from`` and ``recipient`` (missing, not an
object, ids and names of every JSON type), ``conversation`` (type, tenant, id of any type),
``channelData`` (tenant, team, anything), ``value``, ``entities``, ``membersAdded``/``Removed``,
``type``, ``name`` and ``action``, in personal, group and channel conversations. A sender id that is
not a string once reached the database and made a 500. Each example is also checked to leave the
bot able to answer a plain ``help`` afterwards (so no half-written state broke it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app import PARTS
from tests.reliability.test_properties import SETTINGS, app_running, post
from tests.support.harness import Harness


async def answer_status(bot: Harness, activity: dict[str, Any]) -> tuple[int, str]:
    response = await bot.client.post("/api/messages", json=activity)
    body = await response.text()
    await bot.app[PARTS].endpoint.drain()
    return response.status, body


JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
MISSING = object()


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The field left as the valid activity has it, left out, or replaced."""
    return st.one_of(st.just(None).map(lambda _: ...), st.just(MISSING), strategy)


def party(ids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        JSON,
        st.fixed_dictionaries(
            {},
            optional={"id": ids | JSON, "name": JSON, "aadObjectId": JSON, "role": JSON},
        ),
    )


KIND = st.sampled_from(["personal", "groupChat", "channel"])
VERB = st.sampled_from(["poll.vote", "poll.view", "session.rsvp", "help.language", "privacy.forget", ""])
ACTIVITY_TYPE = st.sampled_from(
    ["message", "invoke", "conversationUpdate", "installationUpdate", "event", "typing", ""]
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "type": maybe(ACTIVITY_TYPE | JSON),
    "from": maybe(party(st.just("29:user-5"))),
    "recipient": maybe(party(st.just("28:tapaamo-bot"))),
    "conversation": maybe(
        st.fixed_dictionaries(
            {"id": st.sampled_from(["19:group-chat", "a:personal-5", "19:channel@thread.tacv2"]) | JSON},
            optional={
                "conversationType": KIND | JSON,
                "tenantId": st.just("tenant-1") | JSON,
                "isGroup": JSON,
            },
        )
    ),
    "channelData": maybe(
        JSON
        | st.fixed_dictionaries(
            {}, optional={"tenant": JSON | st.just({"id": "tenant-1"}), "team": JSON, "channel": JSON}
        )
    ),
    "value": maybe(
        JSON
        | st.fixed_dictionaries({"action": JSON | st.fixed_dictionaries({"verb": VERB | JSON, "data": JSON})})
    ),
    "name": maybe(st.just("adaptiveCard/action") | JSON),
    "text": maybe(st.sampled_from(["help", "mydata", "forgetme", "here", "networks"]) | JSON),
    "entities": maybe(
        JSON | st.lists(st.fixed_dictionaries({"type": st.just("mention"), "mentioned": JSON}))
    ),
    "membersAdded": maybe(JSON | st.lists(party(st.just("28:tapaamo-bot")), max_size=2)),
    "membersRemoved": maybe(JSON),
    "action": maybe(st.just("remove") | JSON),
    "locale": maybe(JSON),
    "id": maybe(JSON),
    "timestamp": maybe(JSON),
}


def test_any_shape_of_an_activitys_fields_gets_2xx_or_4xx_never_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with app_running(tmp_path) as (loop, bot):

        @SETTINGS
        @given(changes=st.fixed_dictionaries({}, optional=FIELDS), kind=KIND)
        def prop(changes: dict[str, Any], kind: str) -> None:
            conversation = {"personal": "a:personal-5", "groupChat": "19:group-chat"}.get(
                kind, "19:channel@thread.tacv2"
            )
            activity = bot.activity(text="help", conversation=conversation, conversation_type=kind)
            for name, value in changes.items():
                if value is MISSING:
                    activity.pop(name, None)
                elif value is not ...:
                    activity[name] = value
            status, body = loop.run_until_complete(answer_status(bot, activity))
            assert 200 <= status < 300 or 400 <= status < 500, (status, body, activity)

            status, _, replies = loop.run_until_complete(post(bot, bot.activity(text="help")))
            assert status == 200
            assert len(replies) == 1

        prop()
    # nor did a turn fail inside (that is answered 200 with an apology)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
