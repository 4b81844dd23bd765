"""The sans-IO session: ActionID routing, list actions, foreign ActionIDs, login."""

from __future__ import annotations

import pytest
from amiserver import frame
from hallkpi.telephony import (
    AmiActionError,
    AmiAuthError,
    AmiError,
    AmiSession,
    Message,
    Reply,
)


def test_list_action_items_come_in_stream_order_and_in_the_reply() -> None:
    session = AmiSession(id_prefix="t-")
    aid, data = session.action("QueueStatus", {"Queue": "support"})
    assert aid == "t-1" and data.startswith(b"Action: QueueStatus\r\nActionID: t-1\r\n")
    wire = (
        b"Asterisk Call Manager/11.0.0\r\n"
        + frame([("Response", "Success"), ("ActionID", aid), ("EventList", "start")])
        + frame([("Event", "QueueParams"), ("Queue", "support"), ("ActionID", aid)])
        + frame([("Event", "QueueMemberStatus"), ("Queue", "support")])  # a live event
        + frame([("Event", "QueueMember"), ("Queue", "support"), ("ActionID", aid)])
        + frame([("Event", "QueueStatusComplete"), ("ActionID", aid), ("EventList", "Complete")])
    )
    out = session.receive(wire)
    names = [x.name if isinstance(x, Message) else "REPLY" for x in out]
    assert names == [
        "QueueParams",
        "QueueMemberStatus",
        "QueueMember",
        "QueueStatusComplete",
        "REPLY",
    ]
    reply = out[-1]
    assert isinstance(reply, Reply) and reply.ok and reply.action == "QueueStatus"
    assert [m.name for m in reply.items] == ["QueueParams", "QueueMember"]
    assert reply.complete is not None and reply.complete.name == "QueueStatusComplete"
    assert session.pending == 0 and session.banner == "Asterisk Call Manager/11.0.0"


def test_foreign_action_ids_are_not_replies() -> None:
    session = AmiSession(banner="none")
    aid, _ = session.action("Ping")
    out = session.receive(
        frame([("Response", "Success"), ("ActionID", "other-8")])  # another manager's
        + frame([("Event", "OriginateResponse"), ("ActionID", "other-7")])
        + frame([("Response", "Success"), ("ActionID", aid), ("Ping", "Pong")])
    )
    assert session.foreign_responses == 1
    assert isinstance(out[0], Message) and out[0].name == "OriginateResponse"
    assert isinstance(out[1], Reply) and out[1].response.get("Ping") == "Pong"


def test_login_states_and_errors() -> None:
    session = AmiSession(banner="none")
    aid, data = session.login("kpi", "s3cret", events="off")
    assert b"Secret: s3cret\r\nEvents: off\r\n" in data
    (reply,) = session.receive(
        frame([("Response", "Error"), ("ActionID", aid), ("Message", "Authentication failed")])
    )
    assert isinstance(reply, Reply) and not reply.ok and not session.authenticated
    with pytest.raises(AmiAuthError, match="refused the login") as info:
        reply.raise_for_error()
    assert isinstance(info.value, PermissionError) and isinstance(info.value, AmiError)
    ok = AmiSession(banner="none")
    aid, _ = ok.login("kpi", "s3cret")
    ok.receive(
        frame([("Response", "Success"), ("ActionID", aid)]) + frame([("Event", "FullyBooted")])
    )
    assert ok.authenticated and ok.booted and not ok.closing
    bye, _ = ok.action("Logoff")
    ok.receive(frame([("Response", "Goodbye"), ("ActionID", bye)]))
    assert ok.closing


def test_error_replies_and_command_output() -> None:
    session = AmiSession(banner="none")
    aid, _ = session.action("NoSuchAction")
    (reply,) = session.receive(
        frame(
            [
                ("Response", "Error"),
                ("ActionID", aid),
                ("Message", "Invalid/unknown command: NoSuchAction."),
            ]
        )
    )
    assert isinstance(reply, Reply)
    with pytest.raises(AmiActionError, match="NoSuchAction") as info:
        reply.raise_for_error()
    assert isinstance(info.value, RuntimeError) and info.value.reply is reply
    aid, _ = session.action("Command", {"Command": "queue show"})
    (out,) = session.receive(
        frame(
            [
                ("Response", "Success"),
                ("ActionID", aid),
                ("Message", "Command output follows"),
                ("Output", "support has 0 calls"),
                ("Output", "   No Callers"),
                ("Output", ""),
            ]
        )
    )
    assert isinstance(out, Reply) and out.output() == ["support has 0 calls", "   No Callers"]
    aid, _ = session.action("Command", {"Command": "core show version"})
    old = f"Response: Follows\r\nActionID: {aid}\r\nAsterisk 13.1\r\n--END COMMAND--\r\n\r\n"
    (follows,) = session.receive(old.encode())
    assert isinstance(follows, Reply) and follows.ok and follows.output() == ["Asterisk 13.1"]
    session.forget("nothing")  # harmless


def test_a_list_action_refused_has_no_items() -> None:
    session = AmiSession(banner="none")
    aid, _ = session.action("QueueStatus")
    (reply,) = session.receive(
        frame([("Response", "Error"), ("ActionID", aid), ("Message", "Permission denied")])
    )
    assert isinstance(reply, Reply) and reply.items == () and reply.message == "Permission denied"
