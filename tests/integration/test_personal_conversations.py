"""Whom Tapaamo can message 1:1: found by Teams user id or by Entra object id, on both databases."""

from __future__ import annotations

from storage.db import Database
from storage.network_repos import SqlSessionStore
from storage.repositories import SqlConversationRefs
from tests.integration.test_storage_contract import a_ref


async def test_a_personal_chat_is_found_by_teams_id_or_entra_id(database: Database) -> None:
    refs = SqlConversationRefs(database)
    await refs.upsert(a_ref("a:aino", user_id="29:aino", user_aad_id="aad-aino"))
    await refs.upsert(a_ref("a:eero", user_id="29:eero", user_aad_id="aad-eero"))
    await refs.upsert(a_ref("19:group", kind="groupChat", user_id="29:aino", user_aad_id="aad-aino"))
    sessions = SqlSessionStore(database)

    found = await sessions.personal_conversations(["29:aino", "aad-eero", "aad-nobody"])

    assert found == {"29:aino": "a:aino", "aad-eero": "a:eero"}
    assert await sessions.personal_conversations(["aad-aino"]) == {"aad-aino": "a:aino"}
    assert await sessions.personal_conversations([]) == {}
