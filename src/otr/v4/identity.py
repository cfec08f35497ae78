"""Our local identity for one account: the OTRv3 DSA key and/or the OTRv4 identity
(otr-v4.md "Public keys, Shared Prekeys, Forging keys and Fingerprints", "Client
Profile", "Creating a Client Profile", "Client Profile Expiration").

An :class:`Identity` holds, for one (account, protocol):

* the instance tag (spec "Instance Tags": one per client, >= 0x100), shared by OTRv3 and
  OTRv4;
* optionally the OTRv3 long-term DSA key (:class:`~otr.crypto.dsa.DSAPrivateKey`);
* optionally the OTRv4 keys (:class:`V4Keys`): the long-term Ed448 key pair ``H`` and the
  forging key ``F`` (whose secret is usually not kept), and the Client Profile that
  publishes them.

The Client Profile is renewed before it expires, as otr4j does
(``session/SessionImpl.java``): a new profile is valid for :data:`PROFILE_VALIDITY`
(14 days) and is replaced :data:`PROFILE_RENEW_BEFORE` (12 hours) before it expires.
:meth:`Identity.renew_profile` takes the current **Unix time in seconds** (``now``, as
``time.time()``; the same clock as every ``now`` of this package) and the randomness
source (for the DSA transitional signature), and returns whether the profile changed;
:meth:`Identity.profile_renewal_due` gives the time at which to call it next.  A profile
is also replaced when it no longer matches the identity (other keys, instance tag,
versions or DSA key) or no longer validates.  An identity can be built with a profile
whose DSA part does not match its DSA key (e.g. when the DSA key is kept elsewhere, as
``otr keys`` keeps it in libotr's ``otr.private_key``); the next renewal fixes that.

Versions: with a DSA key the profile advertises ``"34"`` and carries the DSA public key
and the transitional signature (OTRv3-compatible mode, as otr4j does when its policy
allows OTRv3, ERRATA D.1 B.15); without one it advertises ``"4"``.
:meth:`Identity.renew_profile` accepts other versions explicitly (e.g. ``"4"`` with a
DSA key, for the standalone mode).

A replaced profile that has not expired is kept in
:attr:`Identity.previous_profiles` until it expires: Bob's Prekey Ensembles published
before the renewal carry it, and an offline start built on one is still accepted.

The file format is :mod:`otr.storage.identity`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ..crypto.dsa import DSAPrivateKey
from ..crypto.ed448 import Rng
from .keys import Ed448KeyPair, ForgingKey, fingerprint
from .profiles import MIN_INSTANCE_TAG, ClientProfile, ProfileError, build_client_profile

__all__ = [
    "MAX_PREVIOUS_PROFILES",
    "PROFILE_RENEW_BEFORE",
    "PROFILE_VALIDITY",
    "Identity",
    "V4Keys",
    "random_instance_tag",
]

PROFILE_VALIDITY: Final = 14 * 24 * 3600
"""Seconds a new Client Profile is valid (otr4j: 14 days)."""
PROFILE_RENEW_BEFORE: Final = 12 * 3600
"""Seconds before its expiration that a Client Profile is renewed (otr4j: 12 hours)."""
MAX_PREVIOUS_PROFILES: Final = 4
"""Replaced, unexpired Client Profiles kept (:attr:`Identity.previous_profiles`); a
renewal every 13.5 days leaves one."""


def random_instance_tag(rng: Rng) -> int:
    """A random instance tag >= 0x100 (spec "Instance Tags"), 4 bytes from ``rng`` per
    try."""
    tag = 0
    while tag < MIN_INSTANCE_TAG:
        tag = int.from_bytes(rng(4), "big")
    return tag


@dataclass(frozen=True)
class V4Keys:
    """The OTRv4 long-term key pair (H) and the forging key (F)."""

    long_term: Ed448KeyPair
    forging: ForgingKey

    @classmethod
    def generate(cls, rng: Rng, *, keep_forging_secret: bool = False) -> V4Keys:
        """Fresh keys: H from 57 random bytes (RFC 8032), then F likewise (its secret is
        dropped unless ``keep_forging_secret``)."""
        long_term = Ed448KeyPair.generate(rng)
        return cls(long_term, ForgingKey.generate(rng, keep_secret=keep_forging_secret))

    def fingerprint(self) -> bytes:
        """The 56-byte OTRv4 fingerprint of H and F."""
        return fingerprint(self.long_term.public, self.forging.public)


@dataclass(eq=False)
class Identity:
    """Our identity for one (account, protocol); see the module docstring."""

    account: str
    protocol: str
    instance_tag: int
    dsa_key: DSAPrivateKey | None = field(default=None, repr=False)
    v4: V4Keys | None = field(default=None, repr=False)
    client_profile: ClientProfile | None = field(default=None, repr=False)
    previous_profiles: list[ClientProfile] = field(default_factory=list, repr=False)
    """Client Profiles replaced by :meth:`renew_profile` that have not expired yet
    (newest first, at most :data:`MAX_PREVIOUS_PROFILES`): Prekey Ensembles
    published before a renewal carry them, so offline starts built on them are
    still accepted (:mod:`otr.v4.offline`)."""

    def __post_init__(self) -> None:
        if not MIN_INSTANCE_TAG <= self.instance_tag <= 0xFFFFFFFF:
            raise ValueError("the instance tag must be in [0x100, 0xffffffff]")
        if self.dsa_key is None and self.v4 is None:
            raise ValueError("an identity needs a DSA key, OTRv4 keys or both")
        profiles = [self.client_profile] if self.client_profile is not None else []
        for profile in profiles + self.previous_profiles:
            if (
                self.v4 is None
                or profile.public_key != self.v4.long_term.public
                or profile.forging_key != self.v4.forging.public
                or profile.instance_tag != self.instance_tag
            ):
                raise ValueError("the Client Profile does not belong to this identity")

    @classmethod
    def generate(
        cls,
        account: str,
        protocol: str,
        rng: Rng,
        now: float,
        *,
        dsa_key: DSAPrivateKey | None = None,
        v4: bool = True,
        instance_tag: int | None = None,
        keep_forging_secret: bool = False,
    ) -> Identity:
        """A new identity: OTRv4 keys and a Client Profile valid from ``now`` (Unix
        seconds) unless ``v4`` is False, the given DSA key (DSA generation is slow and
        not rng-driven: make it with :func:`otr.crypto.dsa.generate_dsa_key`), and a
        random instance tag unless one is given."""
        tag = random_instance_tag(rng) if instance_tag is None else instance_tag
        keys = V4Keys.generate(rng, keep_forging_secret=keep_forging_secret) if v4 else None
        identity = cls(account, protocol, tag, dsa_key, keys)
        if keys is not None:
            identity.renew_profile(now, rng)
        return identity

    # -- fingerprints ----------------------------------------------------------------

    @property
    def fingerprint(self) -> bytes | None:
        """The 56-byte OTRv4 fingerprint, or None without OTRv4 keys."""
        return None if self.v4 is None else self.v4.fingerprint()

    @property
    def v3_fingerprint(self) -> bytes | None:
        """The 20-byte OTRv3 fingerprint of the DSA key, or None without one."""
        return None if self.dsa_key is None else self.dsa_key.public.fingerprint()

    # -- the Client Profile ----------------------------------------------------------

    def default_versions(self) -> str:
        """``"34"`` with a DSA key, else ``"4"`` (module docstring)."""
        return "34" if self.dsa_key is not None else "4"

    def profile_renewal_due(self) -> float | None:
        """Unix time at which :meth:`renew_profile` will replace the profile (its
        expiration minus :data:`PROFILE_RENEW_BEFORE`); None without OTRv4 keys; the
        past when there is no profile yet."""
        if self.v4 is None:
            return None
        if self.client_profile is None:
            return float("-inf")
        return float(self.client_profile.expiration - PROFILE_RENEW_BEFORE)

    def renew_profile(self, now: float, rng: Rng, *, versions: str | None = None) -> bool:
        """Make sure the Client Profile is usable for at least
        :data:`PROFILE_RENEW_BEFORE` more seconds: replace it (valid for
        :data:`PROFILE_VALIDITY` from ``now``, Unix seconds) when there is none, when it
        expires within that margin, when it does not match the identity or ``versions``
        (default :meth:`default_versions`), or when it does not validate.  Returns True
        if the profile changed.  Without OTRv4 keys there is nothing to do (False).
        ``versions`` with a "3" needs the DSA key (ValueError)."""
        if self.v4 is None:
            return False
        vers = self.default_versions() if versions is None else versions
        if "3" in vers and self.dsa_key is None:
            raise ValueError("advertising OTRv3 in the Client Profile needs the DSA key")
        current = self.client_profile
        self.previous_profiles = [p for p in self.previous_profiles if p.expiration > now]
        if current is not None and self._profile_matches(current, vers):
            try:
                current.validate(now + PROFILE_RENEW_BEFORE)
            except ProfileError:
                pass
            else:
                return False
        if (
            current is not None
            and current.expiration > now
            and self._profile_matches(current, None)
        ):
            kept = [current, *self.previous_profiles]
            self.previous_profiles = kept[:MAX_PREVIOUS_PROFILES]
        self.client_profile = build_client_profile(
            self.v4.long_term,
            self.v4.forging.public,
            self.instance_tag,
            vers,
            int(now) + PROFILE_VALIDITY,
            dsa_key=self.dsa_key if "3" in vers else None,
            rng=rng,
        )
        return True

    def _profile_matches(self, profile: ClientProfile, versions: str | None) -> bool:
        v4 = self.v4
        return (
            v4 is not None
            and profile.public_key == v4.long_term.public
            and profile.forging_key == v4.forging.public
            and profile.instance_tag == self.instance_tag
            and (versions is None or profile.versions == versions.encode("ascii"))
            and (
                profile.dsa_public_key is None
                or (self.dsa_key is not None and profile.dsa_public_key == self.dsa_key.public)
            )
        )

    def __repr__(self) -> str:
        parts = [f"{self.account!r}", f"{self.protocol!r}", f"tag={self.instance_tag:08x}"]
        if self.dsa_key is not None:
            parts.append("v3")
        if self.v4 is not None:
            parts.append("v4")
        return f"<Identity {' '.join(parts)}>"
