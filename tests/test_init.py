"""``otr/__init__.py``: the public API, OTRv4 included, from ``import otr`` alone."""

from __future__ import annotations

import os
import time

import otr
from otr import Conversation, Identity, Policy, V4Credentials, V4Mode, V4Settings, events


def test_every_exported_name_exists() -> None:
    assert sorted(otr.__all__) == otr.__all__
    for name in otr.__all__:
        assert getattr(otr, name) is not None, name
    from otr.v4 import identity, session

    assert otr.Identity is identity.Identity and otr.V4Mode is session.V4Mode
    assert otr.V4Credentials is session.V4Credentials and otr.V4Settings is session.V4Settings


def test_a_v4_conversation_from_the_top_level_names() -> None:
    now = time.time()
    alice = Identity.generate("alice", "xmpp", os.urandom, now)
    bob = Identity.generate("bob", "xmpp", os.urandom, now)
    policy = Policy.named("MANUAL").with_versions({4})
    settings = V4Settings(mode=V4Mode.STANDALONE)
    a, b = (
        Conversation(
            otr.generate_dsa_key(),
            peer,
            account=me.account,
            protocol="xmpp",
            policy=policy,
            instance_tag=me.instance_tag,
            v4=V4Credentials.from_identity(me),
            v4_settings=settings,
        )
        for me, peer in ((alice, "bob"), (bob, "alice"))
    )
    queue = [(b, e.text) for e in a.start(now) if isinstance(e, events.SendMessage)]
    while queue:
        to, text = queue.pop(0)
        other = b if to is a else a
        queue += [
            (other, e.text) for e in to.receive(text, now) if isinstance(e, events.SendMessage)
        ]
    assert a.is_encrypted and b.is_encrypted and a.version == 4 and a.ssid == b.ssid
