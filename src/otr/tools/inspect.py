"""Decode what an OTR conversation put on the wire, and decrypt it when keys are known.

:class:`Inspector` reads one text at a time (a line of a transcript) and returns a
:class:`Report`: the kind of text (OTRv3 spec "Unencoded messages" / "Encoded messages" /
"Fragmentation", as :func:`otr.wire.envelope.classify` tells it), and for an encoded message
its type and every field under the spec's names (OTRv3 spec "D-H Commit Message" ... "Data
Message").  Every parse goes through :mod:`otr.wire`; nothing here reads the binary layout
itself.

The inspector is stateful over a transcript, as a receiver would be:

* OTRv2/v3 fragments are reassembled per sender instance
  (:class:`otr.wire.fragment.Reassembler`);
  the report of the completing fragment carries the whole message's report as ``inner``;
* the D-H public keys seen (D-H Key, g^x revealed by a Reveal Signature Message, the next
  key of each Data Message) are remembered, so that a D-H *private* key given in the
  :class:`KeyRing` yields the session keys of every pair it takes part in (spec "Computing
  AES keys, MAC keys, and the secure session id");
* the MAC keys revealed in Data Messages (spec "Revealing MAC keys") are remembered: each
  is matched against the earlier messages it authenticates, which is what makes the
  transcript forgeable (see :mod:`otr.tools.forge`).

OTRv4 (otr-v4.md) goes through :mod:`otr.wire.v4`: Identity, Auth-R and Auth-I messages
with their Client Profiles (validated when the inspector is given ``now``; the ring
signatures are not checked, they need the parties' account names), Data Messages opened
with a given MKenc or chain key (:mod:`otr.v4.datacrypt`'s derivations, walking up to
:data:`MAX_CHAIN_STEPS` messages down each chain), revealed MKmac values matched the same
way as OTRv3's, and fragments reassembled per identifier in any order
(:class:`otr.wire.fragment_v4.V4Reassembler`).

Which key opens a Data Message is found by trying each candidate key's MAC (HMAC-SHA1, or
the v4 authenticator, compared in constant time): no key-id bookkeeping can go wrong, and a
transcript that is missing messages still decrypts.  Values that are key material are
:class:`~otr.tools.report.Secret` and are redacted by
:func:`~otr.tools.report.report_to_json` / :func:`~otr.tools.report.format_report` unless
``show_secrets`` (those, and :func:`~otr.tools.plaintext.describe_plaintext`, are
re-exported here).

Limits (a transcript is input from anywhere; they also keep the work per message bounded):
at most :data:`MAX_PUBLIC_KEYS` public keys, :data:`MAX_DATA_MESSAGES` Data Messages and
:data:`MAX_REVEALED_KEYS` revealed MAC keys are remembered (oldest first out), at most
:data:`MAX_REASSEMBLERS` senders' fragment buffers are held, and a key pair the key ids do
not name is searched among :data:`MAX_SEARCH_KEYS` recent public keys only.
"""

from __future__ import annotations

import hmac
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..crypto import modp
from ..crypto.primitives import aes128_ctr, consttime_equal, sha1, sha256
from ..errors import RemoteProtocolError
from ..v3.ake import AKE_KEYID, AkeKeys, open_signed_part
from ..v3.datacrypt import PyDirectionKeys
from ..v3.session import aes_keys, extra_symmetric_key
from ..v4.datacrypt import mac_key, message_keys, open_with_message_key
from ..v4.keys import fingerprint as v4_fingerprint
from ..v4.profiles import ClientProfile
from ..wire import envelope
from ..wire import v3 as wire3
from ..wire.buffer import Reader, encode_mpi
from ..wire.envelope import MessageKind
from ..wire.fragment import Reassembler, parse_fragment
from ..wire.fragment_v4 import V4Reassembler
from ..wire.v4 import dake as wire4
from ..wire.v4.data import MESSAGE_TYPE_DATA, DataMessage4
from .forge_v4 import authenticator
from .plaintext import describe_plaintext
from .report import Mpi, Report, Secret, Value, format_report, plain_value, report_to_json

__all__ = [
    "MAX_CHAIN_STEPS",
    "MAX_DATA_MESSAGES",
    "MAX_PUBLIC_KEYS",
    "MAX_REASSEMBLERS",
    "MAX_REVEALED_KEYS",
    "MAX_SEARCH_KEYS",
    "DataKey",
    "Inspector",
    "KeyRing",
    "Mpi",
    "Report",
    "Secret",
    "describe_plaintext",
    "format_report",
    "inspect_transcript",
    "plain_value",
    "report_to_json",
]

MAX_PUBLIC_KEYS = 1024
"""Most D-H public keys the inspector remembers (oldest forgotten first)."""
MAX_DATA_MESSAGES = 32
"""How many of the most recent Data Messages (per protocol version) a revealed MAC key is
matched against (a key is revealed soon after its key pair retires)."""
MAX_REVEALED_KEYS = 32
"""How many of the most recently revealed MAC keys are tried on later messages (a message
that verifies under one was made after the key was public: a replay or a forgery)."""
MAX_REASSEMBLERS = 64
"""Most senders (version, sender instance) with a fragment buffer."""
MAX_CHAIN_STEPS = 256
"""How many message keys past each given OTRv4 chain key are tried."""
MAX_SEARCH_KEYS = 16
"""When the key ids do not point at a known key pair (OTRv2 has no instance tags to tell
whose keyid it is), the pairs among the this many most recent public keys seen are tried,
each of ours (a D-H private key given) with each of the peer's, newest first: an exhaustive
search would cost a modular exponentiation per pair."""

FLAG_IGNORE_UNREADABLE = 0x01
"""Spec "Data Message": the only flag; the receiver need not report an unreadable message."""

TYPE_NAMES = {
    wire3.DH_COMMIT: "D-H Commit Message",
    wire3.DATA: "Data Message",
    wire3.DH_KEY: "D-H Key Message",
    wire3.REVEAL_SIGNATURE: "Reveal Signature Message",
    wire3.SIGNATURE: "Signature Message",
}
"""OTRv2/v3 message types (spec "Encoded messages")."""

ERROR_CODES = {
    "ERROR_1": "the message is undecryptable",
    "ERROR_2": "the message arrived in a state that is not encrypted messages",
    "ERROR_3": "the instance tags do not correspond",
}
"""OTRv4 spec "OTR Error Messages": the error codes a v4 client sends."""

_ERROR_CODE = re.compile(r"\s*(ERROR_\d+)\s*:")


@dataclass(frozen=True)
class KeyRing:
    """What the caller knows (any of it may be empty; none of it appears in the repr).

    * ``aes_keys``: Data Message AES keys (the MAC key is SHA-1 of each, spec "Computing AES
      keys, MAC keys");
    * ``mac_keys``: MAC keys alone (a message can then be authenticated, not decrypted);
    * ``shared_secrets``: D-H shared secrets s = g^xy (the AKE's, or any key pair's);
    * ``dh_secrets``: D-H private keys x (either party's; paired with every public key seen);
    * ``mk_enc``: OTRv4 message encryption keys MKenc (64 bytes; MKmac and the authenticator
      follow from them, otr-v4.md "When you receive a Data Message");
    * ``chain_keys``: OTRv4 chain keys; each opens its message and the next
      :data:`MAX_CHAIN_STEPS` of the same chain.
    """

    aes_keys: tuple[bytes, ...] = field(default=(), repr=False)
    mac_keys: tuple[bytes, ...] = field(default=(), repr=False)
    shared_secrets: tuple[int, ...] = field(default=(), repr=False)
    dh_secrets: tuple[int, ...] = field(default=(), repr=False)
    mk_enc: tuple[bytes, ...] = field(default=(), repr=False)
    chain_keys: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if any(len(k) != 16 for k in self.aes_keys):
            raise ValueError("an OTRv3 AES key is 16 bytes")
        if any(len(k) != 64 for k in (*self.mk_enc, *self.chain_keys)):
            raise ValueError("OTRv4 MKenc and chain keys are 64 bytes")


@dataclass(frozen=True)
class DataKey:
    """A candidate key for one direction of one key pair: ``aes`` is None when only the MAC
    key is known.  ``source`` says where it came from (for the report)."""

    mac: bytes = field(repr=False)
    aes: bytes | None = field(repr=False)
    source: str
    extra: bytes | None = field(default=None, repr=False)


class Inspector:
    """Decodes a transcript text by text (see the module docstring)."""

    def __init__(self, keys: KeyRing | None = None, now: float | None = None) -> None:
        """``now`` (Unix seconds): when given, the OTRv4 Client Profiles seen are validated
        at that time (otr-v4.md "Validating a Client Profile"); a transcript's profiles are
        only valid around the time it was recorded."""
        self.keys = keys or KeyRing()
        self.now = now
        self._count = 0
        self._reassemblers: OrderedDict[tuple[int, int], Reassembler] = OrderedDict()
        self._v4_reassembler = V4Reassembler()
        self._publics: OrderedDict[int, str] = OrderedDict()
        self._keyed: OrderedDict[tuple[int, int], int] = OrderedDict()
        """(owner's instance tag, keyid) -> D-H public key, as the messages announce them."""
        self._commits: dict[int, wire3.DHCommit] = {}
        self._dhkeys: dict[int, int] = {}
        self._ake: dict[tuple[int, int], tuple[AkeKeys, int, int]] = {}
        self._secrets: list[tuple[int, str]] = [
            (int(s), f"shared secret #{n}") for n, s in enumerate(self.keys.shared_secrets, 1)
        ]
        self._our_publics = {
            int(modp.powmod_g(x)): n for n, x in enumerate(self.keys.dh_secrets, 1)
        }
        self._pair_secrets: dict[tuple[int, int], int] = {}
        self._revealed: list[tuple[bytes, int]] = []
        self._data: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()
        self._v4_keys: list[tuple[bytes, bytes, bytes | None, str]] | None = None
        self._v4_revealed: list[tuple[bytes, int]] = []
        self._v4_data: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()

    # -- public API

    def inspect(self, text: str) -> Report:
        """The report of ``text``, the next text of the transcript.  Never raises on
        malformed input: the report's ``error`` says what was wrong."""
        self._count += 1
        return self._inspect(text, self._count)

    def data_keys(
        self, sender: tuple[int, int] | None = None, recipient: tuple[int, int] | None = None
    ) -> Iterator[DataKey]:
        """Every Data Message key candidate known so far: explicit keys, revealed MAC keys,
        keys derived from shared secrets, then from a D-H private key with a public key seen.
        ``sender`` / ``recipient`` are a message's (instance tag, keyid) pairs: the key
        pair they name (spec "Key Management": the sender's keyid and the recipient's) is
        tried first, then a bounded search (:data:`MAX_SEARCH_KEYS`)."""
        for n, aes in enumerate(self.keys.aes_keys, 1):
            yield DataKey(sha1(aes), aes, f"AES key #{n}")
        for n, mac in enumerate(self.keys.mac_keys, 1):
            yield DataKey(mac, None, f"MAC key #{n}")
        for mac, index in self._revealed:
            yield DataKey(mac, None, f"MAC key revealed in #{index}")
        for s, label in self._secrets:
            yield from _pair_keys(s, label)
        if not self.keys.dh_secrets:
            return
        a = self._keyed.get(sender) if sender is not None else None
        b = self._keyed.get(recipient) if recipient is not None else None
        if a is not None and b is not None:
            for ours, theirs in ((a, b), (b, a)):
                mine = self._our_publics.get(ours)
                if mine is not None and theirs not in self._our_publics:
                    yield from self._dh_pair(mine, theirs)
        recent = list(self._publics)[: -MAX_SEARCH_KEYS - 1 : -1]
        for n in [self._our_publics[p] for p in recent if p in self._our_publics]:
            for pub in recent:
                if pub not in self._our_publics:
                    yield from self._dh_pair(n, pub)

    def _dh_pair(self, n: int, pub: int) -> Iterator[DataKey]:
        shared = self._pair_secrets.get((n, pub))
        if shared is None:
            shared = int(modp.powmod(pub, self.keys.dh_secrets[n - 1]))
            self._pair_secrets[(n, pub)] = shared
        seen = self._publics.get(pub, "an earlier message")
        yield from _pair_keys(shared, f"D-H secret #{n} with the key from {seen}")

    # -- dispatch

    def _inspect(self, text: str, index: int) -> Report:
        kind = envelope.classify(text)
        try:
            if kind is MessageKind.FRAGMENT:
                return self._fragment(text, index)
            if kind is MessageKind.ENCODED:
                return self._encoded(envelope.decode_otr_message(text), index)
        except RemoteProtocolError as exc:
            return Report(index, "invalid", f"malformed {kind.value} message", error=str(exc))
        if kind is MessageKind.QUERY:
            versions = envelope.parse_query(text) or frozenset()
            return Report(
                index,
                kind.value,
                "Query Message",
                {"versions": sorted(versions), "text": text},
            )
        if kind is MessageKind.ERROR:
            message = envelope.parse_error(text) or ""
            fields: dict[str, Value] = {"error_text": message}
            m = _ERROR_CODE.match(message)
            if m and m.group(1) in ERROR_CODES:
                fields["error_code"] = m.group(1)
                fields["meaning"] = ERROR_CODES[m.group(1)]
            return Report(index, kind.value, "Error Message", fields)
        if kind is MessageKind.TAGGED_PLAINTEXT:
            found = envelope.find_whitespace_tag(text)
            assert found is not None  # classify saw the tag base
            rest, versions = found
            return Report(
                index,
                kind.value,
                "Tagged plaintext (whitespace tag)",
                {"versions": sorted(versions), "plaintext": rest},
            )
        return Report(index, kind.value, "Plaintext", {"plaintext": text})

    def _fragment(self, text: str, index: int) -> Report:
        frag = parse_fragment(text)
        fields: dict[str, Value] = {"protocol_version": frag.version}
        if frag.version == 4:
            fields["identifier"] = frag.identifier
        if frag.version >= 3:
            fields["sender_instance_tag"] = frag.sender_instance
            fields["receiver_instance_tag"] = frag.receiver_instance
        fields.update({"k": frag.k, "n": frag.n, "piece_length": len(frag.piece)})
        report = Report(
            index, MessageKind.FRAGMENT.value, f"v{frag.version} fragment {frag.k}/{frag.n}", fields
        )
        report.version = frag.version
        if frag.version == 4:
            # otr-v4.md "Receiving Fragments": buffers per identifier, any order.
            result = self._v4_reassembler.feed(frag, 0.0)
            whole = result.message
            for dropped in result.dropped:
                report.notes.append(f"a fragment buffer was dropped ({dropped.reason.value})")
        else:
            key = (frag.version, frag.sender_instance)
            buf = self._reassemblers.pop(key, None) or Reassembler()
            whole = buf.feed(frag)
            self._reassemblers[key] = buf
            while len(self._reassemblers) > MAX_REASSEMBLERS:
                self._reassemblers.popitem(last=False)
            if whole is None and not buf.pending:
                report.notes.append("out of sequence: the fragment buffer was discarded")
        if whole is not None:
            report.notes.append(f"completes a message of {len(whole)} characters")
            report.inner = self._inspect(whole, index)
        return report

    def _encoded(self, binary: bytes, index: int) -> Report:
        if len(binary) >= 3 and binary[:2] == b"\x00\x04" and binary[2] == MESSAGE_TYPE_DATA:
            return self._v4_data_message(DataMessage4.decode(binary), index)
        if len(binary) >= 3 and binary[:2] == b"\x00\x04":
            return self._v4_dake_message(wire4.decode_dake_message(binary), index)
        decoded = wire3.decode_message(binary)
        header, msg = decoded.header, decoded.message
        title = f"v{header.version} {TYPE_NAMES.get(header.type, hex(header.type))}"
        fields: dict[str, Value] = {
            "protocol_version": header.version,
            "message_type": header.type,
        }
        if header.version == 3:
            fields["sender_instance_tag"] = header.sender_instance
            fields["receiver_instance_tag"] = header.receiver_instance
        report = Report(
            index,
            MessageKind.ENCODED.value,
            title,
            fields,
            version=header.version,
            message_type=header.type,
        )
        sender, receiver = header.sender_instance, header.receiver_instance
        if isinstance(msg, wire3.DHCommit):
            fields["encrypted_gx"] = msg.encrypted_gx
            fields["hashed_gx"] = msg.hashed_gx
            self._commits[sender] = msg
        elif isinstance(msg, wire3.DHKey):
            fields["gy"] = Mpi(msg.gy)
            self._dhkeys[sender] = msg.gy
            self._remember_public(msg.gy, index, "D-H Key", sender, AKE_KEYID)
        elif isinstance(msg, wire3.RevealSignature):
            fields["revealed_key"] = msg.revealed_key
            fields["encrypted_signature"] = msg.encrypted_signature
            fields["mac"] = msg.mac
            self._reveal_signature(report, msg, sender, receiver)
        elif isinstance(msg, wire3.Signature):
            fields["encrypted_signature"] = msg.encrypted_signature
            fields["mac"] = msg.mac
            self._signature(report, msg, sender, receiver)
        else:
            self._data_message(report, msg, binary, decoded.authenticated)
        return report

    # -- the AKE (spec "Authenticated Key Exchange")

    def _reveal_signature(
        self, report: Report, msg: wire3.RevealSignature, sender: int, receiver: int
    ) -> None:
        commit = self._commits.get(sender)
        if commit is None:
            report.notes.append("no D-H Commit Message from this sender seen: g^x unknown")
            return
        gxmpi = aes128_ctr(msg.revealed_key, commit.encrypted_gx)
        if not consttime_equal(sha256(gxmpi), commit.hashed_gx):
            report.notes.append("the revealed key does not open the D-H Commit's g^x")
            return
        r = Reader(gxmpi)
        gx = r.get_mpi()
        r.finish()
        report.fields["gx (revealed)"] = Mpi(gx)
        self._remember_public(gx, report.index, "D-H Commit", sender, AKE_KEYID)
        gy = self._dhkeys.get(receiver)
        if gy is None:
            report.notes.append("no D-H Key Message seen: the AKE keys cannot be derived")
            return
        for s, label in self._ake_secrets(gx, gy):
            keys = AkeKeys.from_secret(s)
            section = self._open_signed(
                msg.encrypted_signature, msg.mac, gx, gy, keys.m1, keys.c, keys.m2
            )
            if section is not None:
                self._ake[(sender, receiver)] = (keys, gx, gy)
                self._secrets.append((s, f"the AKE's s (#{report.index})"))
                section["keys_from"] = label
                section["s"] = Secret(encode_mpi(s))
                section["ssid"] = Secret(keys.ssid)
                self._remember_public(gx, report.index, "D-H Commit", sender, section["keyid"])
                report.sections["signed_part"] = section
                return
        if self._secrets or self.keys.dh_secrets:
            report.notes.append("no key given opens the signed part")

    def _signature(self, report: Report, msg: wire3.Signature, sender: int, receiver: int) -> None:
        known = self._ake.get((receiver, sender))
        if known is None:
            return
        keys, gx, gy = known
        section = self._open_signed(
            msg.encrypted_signature, msg.mac, gy, gx, keys.m1_prime, keys.c_prime, keys.m2_prime
        )
        if section is None:
            report.notes.append("the AKE's keys do not open the signed part")
        else:
            report.sections["signed_part"] = section
            self._remember_public(gy, report.index, "D-H Key", sender, section["keyid"])

    def _ake_secrets(self, gx: int, gy: int) -> Iterator[tuple[int, str]]:
        yield from self._secrets
        for pub, other in ((gx, gy), (gy, gx)):
            n = self._our_publics.get(pub)
            if n is not None:
                yield int(modp.powmod(other, self.keys.dh_secrets[n - 1])), f"D-H secret #{n}"

    @staticmethod
    def _open_signed(
        enc: bytes, mac: bytes, theirs: int, ours: int, m1: bytes, c: bytes, m2: bytes
    ) -> dict[str, Value] | None:
        try:
            pub, keyid = open_signed_part(enc, mac, theirs, ours, m1, c, m2)
        except RemoteProtocolError:
            return None
        return {
            "pub_type": "DSA",
            "dsa_p": Mpi(pub.p),
            "dsa_q": Mpi(pub.q),
            "dsa_g": Mpi(pub.g),
            "dsa_y": Mpi(pub.y),
            "fingerprint": pub.fingerprint().hex(),
            "keyid": keyid,
            "signature": "verifies",
        }

    # -- Data Messages (spec "Data Message")

    def _data_message(
        self, report: Report, msg: wire3.DataMessage, binary: bytes, authenticated: bytes
    ) -> None:
        fields = report.fields
        fields.update(
            {
                "flags": msg.flags,
                "flag_names": ["IGNORE_UNREADABLE"] if msg.flags & FLAG_IGNORE_UNREADABLE else [],
                "sender_keyid": msg.sender_keyid,
                "recipient_keyid": msg.recipient_keyid,
                "next_dh": Mpi(msg.next_dh),
                "ctr": msg.ctr,
                "encrypted_message": msg.encrypted,
                "mac": msg.mac,
                "old_mac_keys": [
                    msg.old_mac_keys[i : i + wire3.MAC_LEN]
                    for i in range(0, len(msg.old_mac_keys), wire3.MAC_LEN)
                ],
            }
        )
        if len(msg.old_mac_keys) % wire3.MAC_LEN:
            report.notes.append("old MAC keys are not a whole number of 20-byte keys")
        auth_end = len(authenticated)
        header_tags = (fields.get("sender_instance_tag", 0), fields.get("receiver_instance_tag", 0))
        keys = self.data_keys(
            (header_tags[0], msg.sender_keyid), (header_tags[1], msg.recipient_keyid)
        )
        for key in keys:
            if not hmac.compare_digest(hmac.digest(key.mac, authenticated, "sha1"), msg.mac):
                continue
            section: dict[str, Value] = {"keys_from": key.source, "mac_key": Secret(key.mac)}
            if key.aes is None:
                section["note"] = "MAC verifies; the AES key is unknown"
            else:
                section["aes_key"] = Secret(key.aes)
                if key.extra is not None:
                    section["extra_symmetric_key"] = Secret(key.extra)
                opened = PyDirectionKeys(key.aes, key.mac).open(
                    binary, auth_end - len(msg.encrypted), auth_end
                )
                assert opened is not None  # the MAC was checked just above
                section.update(describe_plaintext(opened))
            report.sections["decrypted"] = section
            break
        # Spec "Revealing MAC keys": each revealed key authenticated an earlier message.
        for i, mac in enumerate(fields["old_mac_keys"]):
            if len(mac) != wire3.MAC_LEN:
                continue
            for earlier, (auth, their_mac) in self._data.items():
                if hmac.compare_digest(hmac.digest(mac, auth, "sha1"), their_mac):
                    report.notes.append(f"old MAC key {i + 1} authenticates message #{earlier}")
            self._revealed.append((bytes(mac), report.index))
        if len(self._revealed) > MAX_REVEALED_KEYS:
            del self._revealed[: len(self._revealed) - MAX_REVEALED_KEYS]
        self._data[report.index] = (authenticated, msg.mac)
        while len(self._data) > MAX_DATA_MESSAGES:
            self._data.popitem(last=False)
        self._remember_public(
            msg.next_dh,
            report.index,
            "Data Message next D-H key",
            report.fields.get("sender_instance_tag", 0),
            msg.sender_keyid + 1,
        )

    # -- OTRv4 DAKE (otr-v4.md "Interactive DAKE")

    def _v4_dake_message(self, msg: wire4.DakeMessage, index: int) -> Report:
        if isinstance(msg, wire4.IdentityMessage):
            mtype, title = wire4.MSG_IDENTITY, "v4 Identity Message"
        elif isinstance(msg, wire4.AuthRMessage):
            mtype, title = wire4.MSG_AUTH_R, "v4 Auth-R Message"
        else:
            mtype, title = wire4.MSG_AUTH_I, "v4 Auth-I Message"
        fields: dict[str, Value] = {
            "protocol_version": 4,
            "message_type": mtype,
            "sender_instance_tag": msg.sender_tag,
            "receiver_instance_tag": msg.receiver_tag,
        }
        report = Report(index, MessageKind.ENCODED.value, title, fields, version=4)
        report.message_type = mtype
        if not isinstance(msg, wire4.AuthIMessage):
            fields["client_profile"] = self._describe_profile(msg.profile, msg.sender_tag)
        if isinstance(msg, wire4.IdentityMessage):
            fields["y"] = msg.y.encode()
            fields["b"] = Mpi(msg.b)
        elif isinstance(msg, wire4.AuthRMessage):
            fields["x"] = msg.x.encode()
            fields["a"] = Mpi(msg.a)
            fields["sigma"] = msg.sigma.encode()
        else:
            fields["sigma"] = msg.sigma.encode()
        if not isinstance(msg, wire4.AuthIMessage):
            fields["first_ecdh_public_key"] = msg.first_ecdh.encode()
            fields["first_dh_public_key"] = Mpi(msg.first_dh)
        if "sigma" in fields:
            report.notes.append("the ring signature is not checked (it needs both profiles)")
        return report

    def _describe_profile(self, profile: ClientProfile, sender_tag: int) -> dict[str, Value]:
        """otr-v4.md "Client Profile": its fields, and with ``now`` whether it validates
        for the message's sender."""
        out: dict[str, Value] = {
            "instance_tag": profile.instance_tag,
            "public_key": profile.public_key.encode(),
            "forging_key": profile.forging_key.encode(),
            "versions": profile.versions.decode("ascii", errors="replace"),
            "expiration": profile.expiration,
            "dsa_public_key": profile.dsa_public_key is not None,
            "transitional_signature": profile.transitional_signature is not None,
            "fingerprint": v4_fingerprint(profile.public_key, profile.forging_key).hex(),
            "encoded": profile.encode(),
        }
        if self.now is not None:
            try:
                profile.validate(self.now, sender_instance_tag=sender_tag)
            except RemoteProtocolError as exc:
                out["validation"] = f"rejected: {exc}"
            else:
                out["validation"] = "valid"
        return out

    # -- OTRv4 Data Messages (otr-v4.md "Data Message")

    def v4_message_keys(self) -> list[tuple[bytes, bytes, bytes | None, str]]:
        """(MKenc, MKmac, extra symmetric key or None, source) of every OTRv4 key given."""
        if self._v4_keys is None:
            keys: list[tuple[bytes, bytes, bytes | None, str]] = [
                (mk, mac_key(mk), None, f"MKenc #{n}") for n, mk in enumerate(self.keys.mk_enc, 1)
            ]
            for n, chain_key in enumerate(self.keys.chain_keys, 1):
                for step in range(MAX_CHAIN_STEPS):
                    mk, extra, chain_key = message_keys(chain_key)
                    keys.append((mk, mac_key(mk), extra, f"chain key #{n}, message +{step}"))
            self._v4_keys = keys
        return self._v4_keys

    def _v4_data_message(self, msg: DataMessage4, index: int) -> Report:
        fields: dict[str, Value] = {
            "protocol_version": 4,
            "message_type": MESSAGE_TYPE_DATA,
            "sender_instance_tag": msg.sender_tag,
            "receiver_instance_tag": msg.receiver_tag,
            "flags": msg.flags,
            "flag_names": ["IGNORE_UNREADABLE"] if msg.ignore_unreadable else [],
            "pn": msg.pn,
            "ratchet_id": msg.ratchet_id,
            "message_id": msg.message_id,
            "ecdh_public_key": msg.ecdh.encode(),
            "dh_public_key": None if msg.dh is None else Mpi(msg.dh),
            "encrypted_message": msg.ciphertext,
            "authenticator": msg.authenticator,
            "revealed_macs": [
                msg.revealed_macs[i : i + 64] for i in range(0, len(msg.revealed_macs), 64)
            ],
        }
        report = Report(
            index,
            MessageKind.ENCODED.value,
            "v4 Data Message",
            fields,
            version=4,
            message_type=MESSAGE_TYPE_DATA,
        )
        section_bytes = msg.authenticated_section()
        ct_start = len(section_bytes) - len(msg.ciphertext)
        section: dict[str, Value] | None = None
        for mk, mac, extra, source in self.v4_message_keys():
            opened = open_with_message_key(mk, section_bytes, ct_start, msg.authenticator)
            if opened is not None:
                section = {"keys_from": source, "mk_mac": Secret(mac), "mk_enc": Secret(mk)}
                if extra is not None:
                    section["extra_symmetric_key"] = Secret(extra)
                section.update(describe_plaintext(opened[0], 4))
                break
        else:
            for mac, revealed_in in self._v4_revealed:
                if hmac.compare_digest(authenticator(mac, section_bytes), msg.authenticator):
                    section = {
                        "keys_from": f"MKmac revealed in #{revealed_in}",
                        "mk_mac": Secret(mac),
                        "note": "authenticator verifies; MKenc is unknown",
                    }
                    break
        if section is not None:
            report.sections["decrypted"] = section
        for n, mac in enumerate(fields["revealed_macs"], 1):
            for earlier, (their_section, their_auth) in self._v4_data.items():
                if hmac.compare_digest(authenticator(mac, their_section), their_auth):
                    report.notes.append(f"revealed MAC {n} authenticates message #{earlier}")
            self._v4_revealed.append((bytes(mac), index))
        if len(self._v4_revealed) > MAX_REVEALED_KEYS:
            del self._v4_revealed[: len(self._v4_revealed) - MAX_REVEALED_KEYS]
        self._v4_data[index] = (section_bytes, msg.authenticator)
        while len(self._v4_data) > MAX_DATA_MESSAGES:
            self._v4_data.popitem(last=False)
        return report

    def _remember_public(
        self, pub: int, index: int, what: str, owner: int | None = None, keyid: int = 0
    ) -> None:
        """Remember a D-H public key seen in message ``index``, and as ``owner``'s key
        ``keyid`` when the message says whose it is."""
        if not 1 < pub < modp.P - 1:
            return
        if owner is not None:
            self._keyed.pop((owner, keyid), None)
            self._keyed[(owner, keyid)] = pub
            while len(self._keyed) > MAX_PUBLIC_KEYS:
                self._keyed.popitem(last=False)
        if pub in self._publics:
            return
        self._publics[pub] = f"#{index} ({what})"
        while len(self._publics) > MAX_PUBLIC_KEYS:
            old, _ = self._publics.popitem(last=False)
            for n in range(1, len(self.keys.dh_secrets) + 1):
                self._pair_secrets.pop((n, old), None)


def _pair_keys(s: int, label: str) -> Iterator[DataKey]:
    """The two directions' keys of the key pair whose shared secret is ``s``."""
    secbytes = encode_mpi(s)
    high, low = aes_keys(secbytes)
    extra = extra_symmetric_key(secbytes)
    yield DataKey(sha1(high), high, f"{label}, sent by the high end", extra)
    yield DataKey(sha1(low), low, f"{label}, sent by the low end", extra)


def inspect_transcript(
    lines: Iterable[str], keys: KeyRing | None = None, now: float | None = None
) -> list[Report]:
    """The report of every non-empty line of a transcript, in order (a line of only
    whitespace is a message: it may be a whitespace tag)."""
    inspector = Inspector(keys, now)
    return [inspector.inspect(line) for line in lines if line]
