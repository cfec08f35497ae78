"""Pairing helpers: our library behind the same interface as libotr's ``OtrPeer``.

``OurPeer`` drives :class:`otr.cli.interop_peer.InteropPeer` (the logic behind
``otr interop-peer``) in-process, so a test can relay wire messages between our
code and the real libotr process with ``peer.relay``.
"""

from __future__ import annotations

from typing import Any

from otr.cli.interop_peer import InteropPeer


class OurPeerError(RuntimeError):
    pass


class OurPeer:
    def __init__(
        self,
        account: str = "bob@x",
        peer: str = "alice@x",
        protocol: str = "xmpp",
        privkey_file: str | None = None,
        policy: Any = "MANUAL",
        max_msg_size: int = 0,
        versions: tuple[int, ...] = (2, 3),
        name: str | None = None,
        clock: Any = None,
        **extra: Any,
    ) -> None:
        self.name = name or account
        self.now = 1000.0
        self.impl = InteropPeer(clock=clock or (lambda: self.now))
        init = self.cmd(
            "init",
            account=account,
            peer=peer,
            protocol=protocol,
            privkey_file=privkey_file,
            policy=policy,
            max_msg_size=max_msg_size,
            versions=list(versions),
            **extra,
        )
        info = next(e for e in init if e["ev"] == "init")
        self.fingerprint = info["fingerprint"]
        self.instag = info["instag"]

    def cmd(self, name: str, check: bool = True, **kw: Any) -> list[dict[str, Any]]:
        msg = {"cmd": name, **{k: v for k, v in kw.items() if v is not None}}
        out = self.impl.handle(msg)
        done = out[-1]
        self.last_done = done
        if check and not done["ok"]:
            raise OurPeerError(f"{self.name}: {name} failed: {done.get('error')}")
        return out[:-1]

    def recv(self, data: str, **kw: Any) -> list[dict[str, Any]]:
        return self.cmd("recv", data=data, **kw)

    def send(self, text: str, **kw: Any) -> list[dict[str, Any]]:
        return self.cmd("send", text=text, **kw)

    def query(self, **kw: Any) -> list[dict[str, Any]]:
        return self.cmd("query", **kw)

    def smp(self, secret: str, question: str | None = None, **kw: Any) -> list[dict[str, Any]]:
        return self.cmd("smp", secret=secret, question=question, **kw)

    def smp_respond(self, secret: str, **kw: Any) -> list[dict[str, Any]]:
        return self.cmd("smp_respond", secret=secret, **kw)

    def smp_abort(self, **kw: Any) -> list[dict[str, Any]]:
        return self.cmd("smp_abort", **kw)

    def symkey(self, use: int = 1, usedata: str = "", **kw: Any) -> list[dict[str, Any]]:
        return self.cmd("symkey", use=use, usedata=usedata, **kw)

    def end(self, **kw: Any) -> list[dict[str, Any]]:
        return self.cmd("end", **kw)

    def status(self, **kw: Any) -> dict[str, Any]:
        return next(e for e in self.cmd("status", **kw) if e["ev"] == "status")

    def set(self, **kw: Any) -> list[dict[str, Any]]:
        return self.cmd("set", **kw)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<OurPeer {self.name}>"

    __hash__ = object.__hash__


def _peer() -> Any:
    from conftest import libotr_peer_module

    return libotr_peer_module()


def run(
    lib: Any, ours: OurPeer, pending: dict[Any, list[dict[str, Any]]]
) -> dict[Any, list[dict[str, Any]]]:
    log: dict[Any, list[dict[str, Any]]] = _peer().relay(pending, {lib: ours, ours: lib})
    log.setdefault(lib, [])
    log.setdefault(ours, [])
    return log


def secure(log: dict[Any, list[dict[str, Any]]], who: Any) -> dict[str, Any]:
    evs = _peer().of(log[who], "gone_secure") + _peer().of(log[who], "still_secure")
    assert evs, f"{who} never went secure: {log[who]}"
    return evs[-1]


def establish(lib: Any, ours: OurPeer, starter: str = "lib") -> None:
    first = lib if starter == "lib" else ours
    log = run(lib, ours, {first: first.query()})
    a, b = secure(log, lib), secure(log, ours)
    assert a["ssid"] == b["ssid"]
    assert a["fingerprint"] == ours.fingerprint
    assert b["fingerprint"] == lib.fingerprint
