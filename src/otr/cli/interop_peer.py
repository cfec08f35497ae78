"""``otr interop-peer``: our library as one party of the JSON-lines interop protocol.

Speaks ``shared/interop/PROTOCOL.md`` on stdin/stdout, so any harness that
drives libotr's ``otrpeer`` can drive this implementation the same way.
:class:`InteropPeer` holds the logic (one command dict in, event dicts out);
:func:`run` is the stdio loop around it.

OTRv4 (PROTOCOL.md ``init``): when the ``versions`` allow 4, the party gets an
OTRv4 identity (:class:`otr.v4.identity.Identity`).  With ``keys_dir`` it is kept
there as ``otr keys`` keeps it (:func:`otr.storage.identity.load_identity`:
``otr.identities`` for the OTRv4 keys and Client Profile, ``otr.private_key`` for
the DSA key unless ``privkey_file`` names another file), created when missing, so
the same identity is used across runs; without it the identity is temporary.
``versions`` ``[3,4]`` is the OTRv3-compatible mode (profile versions "34", OTRv3
against a v3-only peer), ``[4]`` the standalone mode (profile versions "4").
Fingerprints and SSIDs are the session's version's: 56 bytes and 8 bytes for OTRv4
(the ``init`` event gives both of our fingerprints: ``fingerprint`` is the OTRv3
one when there is a DSA key in use, ``fingerprint_v4`` the OTRv4 one).  Every
``now`` is ``time.time()`` (Unix seconds, as the library expects).
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
from ..storage import IDENTITY_FILE, PRIVKEY_FILE, IdentityStore
from ..storage.identity import load_identity
from ..v4.identity import Identity
from ..v4.session import V4Credentials, V4Mode, V4Settings

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
    """Read our DSA key from a libotr ``otr.private_key`` file, generating it when missing
    (a temporary key without a file)."""
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


def _load_identity(
    keys_dir: str | None,
    account: str,
    protocol: str,
    dsa_key: DSAPrivateKey | None,
    instag: int | None,
    now: float,
) -> Identity:
    """Our OTRv4 identity from ``keys_dir`` (created there when missing or when a fixed
    ``instag`` differs from its instance tag), with ``dsa_key`` attached (None: the
    standalone mode) and its Client Profile renewed for the versions that implies."""
    rng = os.urandom
    found = load_identity(keys_dir, account, protocol) if keys_dir else None
    if found is None or found.v4 is None or (instag is not None and found.instance_tag != instag):
        tag = instag if instag is not None else (found.instance_tag if found else None)
        identity = Identity.generate(account, protocol, rng, now, instance_tag=tag)
    else:
        identity = found
    identity = dataclasses.replace(identity, dsa_key=dsa_key)
    changed = identity.renew_profile(now, rng, versions="34" if dsa_key is not None else "4")
    if keys_dir and (changed or identity is not found):
        os.makedirs(keys_dir, exist_ok=True)
        path = os.path.join(keys_dir, IDENTITY_FILE)
        store = IdentityStore.from_file(path) if os.path.exists(path) else IdentityStore()
        # The DSA key stays in libotr's otr.private_key (as ``otr keys`` keeps it).
        store.set(dataclasses.replace(identity, dsa_key=None))
        store.save(path)
    return identity


class InteropPeer:
    """One party: handles one command object, returns the event objects."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.conv: Conversation | None = None
        self.identity: Identity | None = None
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
            return [self._init(cmd, now)]
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

    def _init(self, cmd: Json, now: float) -> Json:
        account = str(cmd.get("account", "alice@x"))
        protocol = str(cmd.get("protocol", "xmpp"))
        keys_dir = cmd.get("keys_dir")
        key_file = cmd.get("privkey_file")
        if key_file is None and keys_dir:
            key_file = os.path.join(str(keys_dir), PRIVKEY_FILE)
            os.makedirs(str(keys_dir), exist_ok=True)
        key = _load_key(key_file, account, protocol)
        policy = _policy(cmd.get("policy"), int(cmd.get("max_msg_size") or 0), cmd.get("versions"))
        instag = int(cmd["instag"]) if cmd.get("instag") else None
        v4: V4Credentials | None = None
        settings: V4Settings | None = None
        self.identity = None
        if policy.allow_v4:
            v3 = policy.allow_v3 or policy.allow_v2
            identity = _load_identity(
                str(keys_dir) if keys_dir else None,
                account,
                protocol,
                key if v3 else None,
                instag,
                now,
            )
            self.identity, instag = identity, identity.instance_tag
            v4 = V4Credentials.from_identity(identity)
            settings = V4Settings(mode=V4Mode.OTRV3_COMPATIBLE if v3 else V4Mode.STANDALONE)
        self.conv = Conversation(
            key,
            str(cmd.get("peer", "bob@x")),
            account=account,
            protocol=protocol,
            policy=policy,
            instance_tag=instag,
            v4=v4,
            v4_settings=settings,
        )
        fp = key.public.fingerprint()
        out: Json = {
            "ev": "init",
            "fingerprint": fp.hex(),
            "fingerprint_human": human_fingerprint(fp),
            "instag": self.conv.our_instance,
        }
        v4_fp = self.identity.fingerprint if self.identity is not None else None
        if v4_fp is not None:
            if settings is not None and settings.mode is V4Mode.STANDALONE:
                out["fingerprint"], out["fingerprint_human"] = v4_fp.hex(), human_fingerprint(v4_fp)
            out["fingerprint_v4"] = v4_fp.hex()
            out["fingerprint_v4_human"] = human_fingerprint(v4_fp)
        return out

    def _status(self, conv: Conversation) -> Json:
        ours = conv.our_fingerprint
        if conv.version == 4 and self.identity is not None and self.identity.fingerprint:
            ours = self.identity.fingerprint
        return {
            "ev": "status",
            "msgstate": conv.msgstate.value,
            "protocol_version": conv.version,
            "our_fingerprint": ours.hex(),
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
