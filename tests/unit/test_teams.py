"""Reading Teams activities: mentions, kinds, locales, and what is not an activity."""

import pytest

from bot.teams import NotAnActivity, bot_was_added, check_activity, clean_text, service_url_allowed, to_turn


def activity(**extra: object) -> dict:
    base = {
        "type": "message",
        "id": "1",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "from": {"id": "29:u", "name": "Aino", "aadObjectId": "aad-u"},
        "recipient": {"id": "28:bot", "name": "Tapaamo"},
        "conversation": {"id": "19:c", "conversationType": "channel", "tenantId": "t1"},
        "locale": "fi-FI",
    }
    base.update(extra)
    return base


def test_the_bot_mention_is_stripped_and_others_are_kept() -> None:
    a = activity(
        text="<at>Tapaamo</at>&nbsp;network coordinators add <at>Bertil</at>",
        entities=[
            {"type": "mention", "mentioned": {"id": "28:bot", "name": "Tapaamo"}, "text": "<at>Tapaamo</at>"},
            {"type": "mention", "mentioned": {"id": "29:b", "name": "Bertil"}, "text": "<at>Bertil</at>"},
        ],
    )
    t = to_turn(a)
    assert t.text == "network coordinators add"
    assert [m.id for m in t.mentions] == ["29:b"]
    assert t.conversation_kind == "channel"
    assert t.lang == "fi"
    assert t.tenant_id == "t1"


def test_clean_text_removes_markup() -> None:
    assert clean_text({"text": "<p>help&nbsp;</p>"}) == "help"


@pytest.mark.parametrize(
    "body",
    [[], "x", {}, {"type": ""}, {"type": "message"}, {"type": "message", "conversation": {"id": "c"}}],
)
def test_not_an_activity(body: object) -> None:
    with pytest.raises(NotAnActivity):
        check_activity(body)


def test_service_url_allow_list() -> None:
    hosts = {"smba.trafficmanager.net", "127.0.0.1"}
    assert service_url_allowed("https://smba.trafficmanager.net/emea/", hosts, allow_http=False)
    assert not service_url_allowed("https://smba.trafficmanager.net.evil.com/", hosts, allow_http=False)
    assert not service_url_allowed("http://smba.trafficmanager.net/", hosts, allow_http=True)
    assert service_url_allowed("http://127.0.0.1:56150/_connector", hosts, allow_http=True)
    assert not service_url_allowed("http://127.0.0.1:56150/_connector", hosts, allow_http=False)


def test_bot_added_is_recognised() -> None:
    assert bot_was_added(activity(type="conversationUpdate", membersAdded=[{"id": "28:bot"}]))
    assert not bot_was_added(activity(type="conversationUpdate", membersAdded=[{"id": "29:x"}]))
