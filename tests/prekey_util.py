"""Shared helpers of the prekey tests: parties with keys and profiles, a
deterministic rng, and a pump between a PrekeyClient and a PrekeyServer."""

from __future__ import annotations

import random
from dataclasses import dataclass

from otr.prekey import client as pc
from otr.prekey.client import PrekeyClient
from otr.prekey.server import PrekeyServer
from otr.v4.keys import Ed448KeyPair, ForgingKey
from otr.v4.profiles import ClientProfile, PrekeyProfile, build_client_profile, build_prekey_profile

NOW = 1_800_000_000.0
SERVER_ID = "prekey.example.org"


def make_rng(seed: int):  # type: ignore[no-untyped-def]
    r = random.Random(seed)
    return lambda n: r.randbytes(n)


@dataclass
class Party:
    identity: str
    tag: int
    keypair: Ed448KeyPair
    client_profile: ClientProfile
    prekey_profile: PrekeyProfile
    shared: Ed448KeyPair


def make_party(identity: str, tag: int, seed: int, *, expires: float = NOW + 14 * 86400) -> Party:
    rng = make_rng(seed)
    kp = Ed448KeyPair.generate(rng)
    forging = ForgingKey.generate(rng).public
    cp = build_client_profile(kp, forging, tag, "4", int(expires), rng=rng)
    shared = Ed448KeyPair.generate(rng)
    pp = build_prekey_profile(kp, tag, int(expires), shared.public)
    return Party(identity, tag, kp, cp, pp, shared)


def make_client(party: Party, seed: int, **kwargs) -> PrekeyClient:  # type: ignore[no-untyped-def]
    return PrekeyClient(
        identity=party.identity,
        server_identity=kwargs.pop("server_identity", SERVER_ID),
        keypair=party.keypair,
        client_profile=party.client_profile,
        prekey_profile=party.prekey_profile,
        shared_prekey=party.shared,
        rng=make_rng(seed),
        **kwargs,
    )


def pump(
    client: PrekeyClient, server: PrekeyServer, texts: list[str], sender: str, now: float = NOW
) -> list[pc.ClientEvent]:
    """Deliver ``texts`` to the server and its replies to the client until quiet;
    return the client's events other than SendToServer."""
    events: list[pc.ClientEvent] = []
    outgoing = list(texts)
    while outgoing:
        replies = [r for t in outgoing for r in server.handle(sender, t, now)]
        outgoing = []
        for reply in replies:
            for ev in client.receive(reply, now):
                if isinstance(ev, pc.SendToServer):
                    outgoing.append(ev.text)
                else:
                    events.append(ev)
    return events
