"""The optional C accelerator: required where the test command says so, and
switchable off (the pure-Python twins are tested against it in the tests of
otr.v3.datacrypt and otr.wire.envelope)."""

from __future__ import annotations

import os
import subprocess
import sys

from otr import accelerator


def test_accelerator_is_built_when_required() -> None:
    # The test command (./run test) sets OTR_REQUIRE_ACCELERATOR so that a silent
    # fallback (extension not built) fails CI instead of going unnoticed.
    if os.environ.get("OTR_REQUIRE_ACCELERATOR"):
        assert accelerator.ACCELERATED
        assert accelerator.native is not None
        assert accelerator.native.__name__ == "otr._speedups"


def test_pure_python_can_be_forced() -> None:
    code = (
        "from otr import accelerator as a\n"
        "from otr.v3 import datacrypt as d\n"
        "from otr.wire import envelope as e\n"
        "print(a.ACCELERATED, d.DirectionKeys.__name__, e._b64decode.__name__)"
    )
    env = dict(os.environ, OTR_PURE_PYTHON="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    assert out.stdout.split() == ["False", "PyDirectionKeys", "py_b64decode"]


PAIR_SCRIPT = """
from otr import accelerator, events as ev
from otr.conversation import Conversation
from otr.crypto.dsa import generate_dsa_key
from otr.policy import Policy

assert not accelerator.ACCELERATED
policy = Policy.named("ALWAYS", max_message_size=150)
a = Conversation(generate_dsa_key(), "bob", policy=policy)
b = Conversation(generate_dsa_key(), "alice", policy=policy)
got = []

def pump(src, dst, events):
    for e in events:
        if isinstance(e, ev.SendMessage):
            pump(dst, src, dst.receive(e.text))
        elif isinstance(e, ev.MessageReceived):
            got.append(e.text)

pump(a, b, a.start())
for i in range(6):
    pump(a, b, a.send("ping %d " % i * (i + 1)))
    pump(b, a, b.send("pong %d é" % i))
assert a.is_encrypted and b.is_encrypted
assert got == [t for i in range(6) for t in ("ping %d " % i * (i + 1), "pong %d é" % i)], got
print("ok")
"""


def test_pure_python_conversation_end_to_end() -> None:
    # The whole per-message path on the pure-Python twins: AKE, fragments, key
    # rotation in both directions (the C path is what the rest of the suite runs).
    env = dict(os.environ, OTR_PURE_PYTHON="1")
    out = subprocess.run(
        [sys.executable, "-c", PAIR_SCRIPT], env=env, check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == "ok"
