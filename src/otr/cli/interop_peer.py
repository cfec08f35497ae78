"""``otr interop-peer``: our library as one party of the JSON-lines interop protocol.

Speaks ``shared/interop/PROTOCOL.md`` on stdin/stdout, so any harness that
drives libotr's ``otrpeer`` can drive this implementation the same way.
:class:`InteropPeer` holds the logic (one command dict in, event dicts out);
:func:`run` is the stdio loop around it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .. import events as ev
from ..conversation import Conversation, MsgState
from ..crypto.dsa import DSAPrivateKey, generate_dsa_key, human_fingerprint
from ..errors import OtrError
from ..events import Tlv
from ..policy import Policy

__all__ = ["InteropPeer", "add_arguments", "event_to_json", "run"]

Json = dict[str, Any]

_SMP_EVENT_NAMES: dict[type[ev.Event], str] = {
    ev.SmpInProgress: "in_progress",
    ev.SmpSucceeded: "success",
    ev.SmpFailed: "failure",
    ev.SmpAborted: "abort",
    ev.SmpCheated: "cheated",
}

# Our events that are "msg_event"s in libotr's vocabulary (OTRL_MSGEVENT_*).
_MSG_EVENT_NAMES: dict[type[ev.Event], str] = {
    ev.MessageUnreadable: "rcvdmsg_unreadable",
    ev.MessageForOtherInstance: "rcvdmsg_for_other_instance",
    ev.ErrorReceived: "rcvdmsg_general_err",
    ev.UnencryptedReceived: "rcvdmsg_unencrypted",
    ev.MessageNotSent: "encryption_required",
    ev.Warning: "msg_resent",
}


def _tlvs_json(tlvs: tuple[Tlv, ...]) -> list[Json]:
    return [{"type": t.type, "data": t.value.hex()} for t in tlvs]


def event_to_json(e: ev.Event) -> Json | None:
    """Translate one of our events to the interop protocol's event object."""
    if isinstance(e, ev.SendMessage):
        return {"ev": "inject", "data": e.text}
    if isinstance(e, ev.MessageReceived):
        return {
            "ev": "message",
            "text": e.text,
            "encrypted": e.encrypted,
            "tlvs": _tlvs_json(e.tlvs),
            "their_instance": e.their_instance,
        }
    if isinstance(e, ev.SessionSecured):
        return {
            "ev": "still_secure" if e.refreshed else "gone_secure",
            "ssid": e.ssid.hex(),
            "fingerprint": e.their_fingerprint.hex(),
            "fingerprint_human": human_fingerprint(e.their_fingerprint),
            "protocol_version": e.version,
            "their_instance": e.their_instance,
            "trust": e.trust.value,
        }
    if isinstance(e, ev.SessionFinished):
        return {"ev": "gone_insecure", "msgstate": "finished"}
    if isinstance(e, ev.SessionEnded):
        return {"ev": "gone_insecure", "msgstate": "plaintext"}
    if isinstance(e, ev.SmpRequested):
        out: Json = {"ev": "smp", "event": "ask_for_secret"}
        if e.question is not None:
            out["event"] = "ask_for_answer"
            out["question"] = e.question
        return out
    name = _SMP_EVENT_NAMES.get(type(e))
    if name is not None:
        out = {"ev": "smp", "event": name}
        if isinstance(e, ev.SmpInProgress):
            out["progress"] = e.progress
        return out
    if isinstance(e, ev.ExtraSymmetricKey):
        return {
            "ev": "symkey",
            "origin": e.origin,
            "use": e.use,
            "usedata": e.usedata.hex(),
            "key": e.key.hex(),
        }
    if isinstance(e, ev.NewFingerprint | ev.FingerprintChanged):
        return {"ev": "new_fingerprint", "fingerprint": e.fingerprint.hex()}
    name = _MSG_EVENT_NAMES.get(type(e))
    if name is not None:
        message = next(
            (getattr(e, a) for a in ("reason", "text", "message") if hasattr(e, a)), None
        )
        out = {"ev": "msg_event", "event": name}
        if message is not None:
            out["message"] = str(message)
        return out
    return None


def _load_key(path: str | None, account: str, protocol: str) -> DSAPrivateKey:
    """Read our DSA key from a libotr ``otr.private_key`` file, generating it when missing."""
    if path is None:
        return generate_dsa_key()
    from ..storage import PrivateKeyStore

    store = PrivateKeyStore.from_file(path) if os.path.exists(path) else PrivateKeyStore()
    key = store.get(account, protocol)
    if key is None:
        key = generate_dsa_key()
        store.set(account, protocol, key)
        store.save(path)
    return key


def _policy(value: Any, max_size: int, versions: Any) -> Policy:
    if isinstance(value, int):
        pol = Policy.from_flags(value, max_size)
    else:
        pol = Policy.named(str(value or "DEFAULT"), max_size)
    if versions:
        pol = pol.with_versions({int(v) for v in versions})
    return pol


class InteropPeer:
    """One party: handles one command object, returns the event objects."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.conv: Conversation | None = None
        self.clock = clock

    def handle(self, cmd: Json) -> list[Json]:
        name = str(cmd.get("cmd", ""))
        done: Json = {"ev": "done", "cmd": name, "ok": True}
        if "id" in cmd:
            done["id"] = cmd["id"]
        try:
            out = self._dispatch(name, cmd)
        except (OtrError, ValueError, KeyError, TypeError) as exc:
            out = []
            done["ok"] = False
            done["error"] = str(exc) or type(exc).__name__
        return [*out, done]

    def _conv(self) -> Conversation:
        if self.conv is None:
            raise ValueError("init first")
        return self.conv

    def _events(self, events: list[ev.Event]) -> list[Json]:
        return [j for j in (event_to_json(e) for e in events) if j is not None]

    def _dispatch(self, name: str, cmd: Json) -> list[Json]:
        now = self.clock()
        if name == "quit":
            return []
        if name == "init":
            account = str(cmd.get("account", "alice@x"))
            protocol = str(cmd.get("protocol", "xmpp"))
            key = _load_key(cmd.get("privkey_file"), account, protocol)
            policy = _policy(
                cmd.get("policy"), int(cmd.get("max_msg_size") or 0), cmd.get("versions")
            )
            self.conv = Conversation(
                key,
                str(cmd.get("peer", "bob@x")),
                account=account,
                protocol=protocol,
                policy=policy,
                instance_tag=cmd.get("instag") or None,
            )
            fp = key.public.fingerprint()
            return [
                {
                    "ev": "init",
                    "fingerprint": fp.hex(),
                    "fingerprint_human": human_fingerprint(fp),
                    "instag": self.conv.our_instance,
                }
            ]
        conv = self._conv()
        if name == "recv":
            return self._events(conv.receive(str(cmd["data"]), now))
        if name == "send":
            text = cmd.get("text")
            if text is None:
                text = bytes.fromhex(str(cmd.get("text_hex", ""))).decode("utf-8")
            tlvs = tuple(
                Tlv(int(t["type"]), bytes.fromhex(t.get("data", ""))) for t in cmd.get("tlvs", [])
            )
            return self._events(conv.send(str(text), now, tlvs))
        if name == "query":
            return self._events(conv.start(now))
        if name == "smp":
            return self._events(conv.smp_start(str(cmd["secret"]), cmd.get("question"), now))
        if name == "smp_respond":
            return self._events(conv.smp_respond(str(cmd["secret"]), now))
        if name == "smp_abort":
            return self._events(conv.smp_abort(now))
        if name == "symkey":
            use = int(cmd.get("use", 1))
            usedata = bytes.fromhex(str(cmd.get("usedata", "")))
            return self._events(conv.use_extra_key(use, usedata, now))
        if name == "end":
            return self._events(conv.end(now))
        if name == "poll":
            return self._events(conv.handle_timer(now))
        if name == "status":
            return [self._status(conv)]
        if name == "set":
            pol = conv.policy
            if "policy" in cmd:
                pol = _policy(cmd["policy"], pol.max_message_size, None)
            if "versions" in cmd:
                pol = pol.with_versions({int(v) for v in cmd["versions"]})
            if "max_msg_size" in cmd:
                pol = dataclasses.replace(pol, max_message_size=int(cmd["max_msg_size"]))
            conv.policy = pol
            return []
        raise ValueError(f"unknown command {name!r}")

    @staticmethod
    def _status(conv: Conversation) -> Json:
        return {
            "ev": "status",
            "msgstate": conv.msgstate.value,
            "protocol_version": conv.version,
            "our_fingerprint": conv.our_fingerprint.hex(),
            "their_fingerprint": conv.their_fingerprint.hex(),
            "our_instag": conv.our_instance,
            "their_instance": conv.their_instance,
            "ssid": conv.ssid.hex(),
            "trust": conv.trust_level.value,
            "instances": [
                {"their_instance": s.their_instance, "msgstate": s.msgstate.value}
                for s in conv.sessions.values()
                if s.msgstate is not MsgState.PLAINTEXT
            ],
        }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults()


def run(args: argparse.Namespace) -> int:
    """The stdio loop: one JSON command per line in, JSON events per line out."""
    peer = InteropPeer()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict):
                raise ValueError("command must be an object")
        except ValueError as exc:
            print(json.dumps({"ev": "done", "cmd": "", "ok": False, "error": str(exc)}), flush=True)
            continue
        for out in peer.handle(cmd):
            print(json.dumps(out), flush=True)
        if cmd.get("cmd") == "quit":
            break
    return 0
