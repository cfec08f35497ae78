"""``otr keys``: our long-term keys, peers' fingerprints and trust, in libotr's files.

The key directory (``--dir``; default ``$OTR_DIR``, else
``$XDG_DATA_HOME/otr``, i.e. ``~/.local/share/otr``) holds the same three files
as a libotr/Pidgin profile (``~/.purple``): ``otr.private_key``,
``otr.fingerprints`` and ``otr.instance_tags`` (see :mod:`otr.storage`), so
either program can use the other's directory.  OTRv4 adds two files of our own:
``otr.identities`` (our OTRv4 keys and Client Profiles, :mod:`otr.storage.identity`;
the DSA key stays in ``otr.private_key`` only, :func:`otr.storage.identity.load_identity`
puts them together) and ``otr.fingerprints.v4`` (peers' 56-byte OTRv4 fingerprints,
beside libotr's file, see :mod:`otr.storage.fingerprints`).

* ``generate ACCOUNT PROTOCOL`` -- a new 1024-bit DSA key (and an instance tag) and the
  OTRv4 identity (Ed448 long-term and forging keys, a Client Profile advertising
  versions 3 and 4); ``--v3-only`` the DSA key alone (libotr's files only),
  ``--v4-only`` the OTRv4 identity alone (``--v4`` is the default, kept for scripts);
* ``list`` -- our keys (and OTRv4 identities) and every known fingerprint with its trust;
* ``fingerprint [ACCOUNT [PROTOCOL]]`` -- our fingerprint(s), OTRv3 then OTRv4;
* ``trust USERNAME FINGERPRINT`` -- mark a peer's fingerprint (40 hex digits, or 112 for
  OTRv4) verified (``--unverified`` / ``--forget`` undo);
* ``import [DIR]`` -- merge a libotr/Pidgin directory (default ``~/.purple``).

Errors (missing or malformed files, unknown accounts) print one line on stderr
and exit with status 1; files are only written atomically, keys with mode 0600.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from ..crypto.dsa import DSAPrivateKey, generate_dsa_key
from ..crypto.dsa import human_fingerprint as human_v3_fingerprint
from ..storage import (
    FINGERPRINTS_FILE,
    IDENTITY_FILE,
    INSTAG_FILE,
    PRIVKEY_FILE,
    FingerprintStore,
    IdentityStore,
    InstanceTagStore,
    KeyFileError,
    PrivateKeyStore,
)
from ..v4.identity import Identity
from ..v4.keys import FINGERPRINT_BYTES as V4_FINGERPRINT_BYTES
from ..v4.keys import human_fingerprint as human_v4_fingerprint

__all__ = ["add_arguments", "default_dir", "run"]

TRUST_VERIFIED = "verified"
"""The trust string Pidgin's OTR plugin writes for a manually verified fingerprint."""


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def default_dir() -> Path:
    """``$OTR_DIR``, else ``$XDG_DATA_HOME/otr`` (``~/.local/share/otr``)."""
    env = os.environ.get("OTR_DIR")
    if env:
        return Path(env).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
    return Path(data).expanduser() / "otr"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-d",
        "--dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="key directory (default: $OTR_DIR or ~/.local/share/otr)",
    )
    sub = parser.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "generate", parents=[common], help="generate a DSA key and an OTRv4 identity"
    )
    p.add_argument("account", help="our account name, e.g. alice@example.org")
    p.add_argument("protocol", help="the protocol, e.g. prpl-jabber (Pidgin) or xmpp")
    p.add_argument("--force", action="store_true", help="replace an existing key")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--v4", action="store_true", help="the DSA key and the OTRv4 identity (the default)"
    )
    which.add_argument(
        "--v3-only", action="store_true", help="generate only the DSA key (no OTRv4 identity)"
    )
    which.add_argument(
        "--v4-only", action="store_true", help="generate only the OTRv4 identity (no DSA key)"
    )

    sub.add_parser("list", parents=[common], help="list our keys and known fingerprints")

    p = sub.add_parser("fingerprint", parents=[common], help="show our fingerprint")
    p.add_argument("account", nargs="?", help="only this account")
    p.add_argument("protocol", nargs="?", help="only this protocol")
    p.add_argument("--hex", action="store_true", help="hex digits instead of libotr's form")

    p = sub.add_parser("trust", parents=[common], help="verify (or distrust) a peer's fingerprint")
    p.add_argument("username", help="the peer's name, e.g. bob@example.org")
    p.add_argument(
        "fingerprint", help="their fingerprint (40, or 112 for OTRv4, hex digits; spaces allowed)"
    )
    p.add_argument("-a", "--account", help="our account (needed for a fingerprint not seen yet)")
    p.add_argument("-p", "--protocol", help="the protocol (needed for a fingerprint not seen yet)")
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--unverified", action="store_true", help="mark the fingerprint as not verified"
    )
    how.add_argument("--forget", action="store_true", help="remove the fingerprint")
    how.add_argument(
        "--trust-string",
        default=TRUST_VERIFIED,
        metavar="S",
        help=f"trust text to store (default {TRUST_VERIFIED!r}; Pidgin writes 'smp' after SMP)",
    )

    p = sub.add_parser(
        "import", parents=[common], help="import keys, fingerprints and tags from libotr/Pidgin"
    )
    p.add_argument(
        "source",
        nargs="?",
        type=Path,
        default=Path("~/.purple"),
        help="a directory with otr.private_key / otr.fingerprints / otr.instance_tags "
        "(default ~/.purple)",
    )
    p.add_argument("--force", action="store_true", help="let imported keys and tags replace ours")


# -- helpers ---------------------------------------------------------------------


def _load_keys(path: Path, required: bool) -> PrivateKeyStore:
    if not path.exists():
        if required:
            raise CommandError(
                f"{path}: no such file (create a key with 'otr keys generate' or 'otr keys import')"
            )
        return PrivateKeyStore()
    return PrivateKeyStore.from_file(path)


def _load_fingerprints(path: Path) -> FingerprintStore:
    return FingerprintStore.from_file(path) if path.exists() else FingerprintStore()


def _load_instags(path: Path) -> InstanceTagStore:
    return InstanceTagStore.from_file(path) if path.exists() else InstanceTagStore()


def _load_identities(path: Path) -> IdentityStore:
    return IdentityStore.from_file(path) if path.exists() else IdentityStore()


def _key_dir(args: argparse.Namespace, create: bool = False) -> Path:
    directory: Path = args.dir.expanduser() if args.dir is not None else default_dir()
    if directory.exists() and not directory.is_dir():
        raise CommandError(f"{directory}: not a directory")
    if create and not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
    return directory


def _parse_fingerprint(text: str) -> bytes:
    digits = "".join(text.split()).lower()
    if len(digits) not in (40, 112) or any(c not in "0123456789abcdef" for c in digits):
        raise CommandError(
            f"{text!r} is not a fingerprint (40 or 112 hexadecimal digits, spaces allowed)"
        )
    return bytes.fromhex(digits)


def human_fingerprint(fp: bytes) -> str:
    """libotr's human form of a 20-byte fingerprint, or ours of a 56-byte OTRv4 one."""
    if len(fp) == V4_FINGERPRINT_BYTES:
        return human_v4_fingerprint(fp)
    return human_v3_fingerprint(fp)


def _identity_text(identity: Identity) -> str:
    fp = identity.fingerprint
    shown = human_fingerprint(fp) if fp is not None else "(no OTRv4 keys)"
    text = f"{identity.account} ({identity.protocol})  {shown}  "
    text += f"instance tag {identity.instance_tag:08x}"
    profile = identity.client_profile
    if profile is not None:
        expires = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(profile.expiration))
        text += f"  profile expires {expires}"
    return text


def _trust_text(trust: str) -> str:
    if not trust:
        return "unverified"
    return "verified" if trust == TRUST_VERIFIED else f"verified ({trust})"


def _generate_with_progress(label: str, stream: TextIO) -> DSAPrivateKey:
    """Generate a key in a worker thread while a spinner (dots when not a tty) runs on stream."""
    result: list[DSAPrivateKey] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            result.append(generate_dsa_key())
        except BaseException as e:  # reported from the main thread
            failure.append(e)

    worker = threading.Thread(target=work, name="otr-keygen", daemon=True)
    tty = stream.isatty()
    stream.write(f"Generating a DSA key for {label} ")
    stream.flush()
    worker.start()
    frames = "|/-\\"
    ticks = 0
    while True:
        if tty:
            stream.write(frames[ticks % len(frames)] + "\b")
        elif ticks % 5 == 0:
            stream.write(".")
        stream.flush()
        worker.join(0.1)
        if not worker.is_alive():
            break
        ticks += 1
    if failure:
        stream.write(" failed\n")
        raise failure[0]
    stream.write(" done\n")
    stream.flush()
    return result[0]


# -- commands --------------------------------------------------------------------


def _cmd_generate(args: argparse.Namespace) -> int:
    directory = _key_dir(args)
    keys_path = directory / PRIVKEY_FILE
    tags_path = directory / INSTAG_FILE
    ids_path = directory / IDENTITY_FILE
    keys = _load_keys(keys_path, required=False)
    tags = _load_instags(tags_path)
    account, protocol = args.account, args.protocol
    if not account or not protocol:
        raise CommandError("account and protocol must not be empty")
    want_v3 = not args.v4_only
    want_v4 = not args.v3_only
    identities = _load_identities(ids_path) if want_v4 else IdentityStore()
    existing = keys.get(account, protocol)
    if want_v3 and existing is not None and not args.force:
        raise CommandError(
            f"{account} ({protocol}) already has a key "
            f"({human_fingerprint(existing.public.fingerprint())}); use --force to replace it"
        )
    existing_v4 = identities.get(account, protocol)
    if want_v4 and existing_v4 is not None and existing_v4.v4 is not None and not args.force:
        assert existing_v4.fingerprint is not None
        raise CommandError(
            f"{account} ({protocol}) already has an OTRv4 identity "
            f"({human_fingerprint(existing_v4.fingerprint)}); use --force to replace it"
        )
    key = _generate_with_progress(f"{account} ({protocol})...", sys.stderr) if want_v3 else None
    tag = tags.get(account, protocol)
    if tag is None:
        tag = tags.ensure(account, protocol)
        save_tags = True
    else:
        save_tags = False
    identity = None
    if want_v4:
        # The profile carries the DSA key (versions "34") when the account has one.
        dsa_key = key if key is not None else keys.get(account, protocol)
        identity = Identity.generate(
            account, protocol, secrets.token_bytes, time.time(), dsa_key=dsa_key, instance_tag=tag
        )
        # The DSA key itself stays in libotr's file only (see the module docstring).
        identity.dsa_key = None
        identities.set(identity)
    _key_dir(args, create=True)
    if key is not None:
        keys.set(account, protocol, key)
        keys.save(keys_path)
        print(f"{account} ({protocol}): {human_fingerprint(key.public.fingerprint())}")
    if save_tags:
        tags.save(tags_path)
    if identity is not None:
        identities.save(ids_path)
        assert identity.fingerprint is not None
        print(f"{account} ({protocol}): OTRv4 {human_fingerprint(identity.fingerprint)}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    directory = _key_dir(args)
    keys = _load_keys(directory / PRIVKEY_FILE, required=False)
    tags = _load_instags(directory / INSTAG_FILE)
    fps = _load_fingerprints(directory / FINGERPRINTS_FILE)
    print(f"Our keys ({directory / PRIVKEY_FILE}):")
    accounts = keys.accounts()
    if not accounts:
        print("  (none)")
    for account, protocol in accounts:
        fp = keys.fingerprint(account, protocol)
        assert fp is not None
        tag = tags.get(account, protocol)
        tag_text = f"  instance tag {tag:08x}" if tag is not None else ""
        print(f"  {account} ({protocol})  {human_fingerprint(fp)}{tag_text}")
    ids_path = directory / IDENTITY_FILE
    if ids_path.exists():
        print(f"Our OTRv4 identities ({ids_path}):")
        ids = IdentityStore.from_file(ids_path).identities()
        if not ids:
            print("  (none)")
        for identity in ids:
            print(f"  {_identity_text(identity)}")
    print(f"Known fingerprints ({directory / FINGERPRINTS_FILE}):")
    entries = fps.entries()
    if not entries:
        print("  (none)")
    for e in entries:
        state = _trust_text(e.trust)
        print(
            f"  {e.username}  to {e.account} ({e.protocol})  "
            f"{human_fingerprint(e.fingerprint)}  {state}"
        )
    return 0


def _cmd_fingerprint(args: argparse.Namespace) -> int:
    directory = _key_dir(args)
    path = directory / PRIVKEY_FILE
    ids_path = directory / IDENTITY_FILE
    keys = _load_keys(path, required=not ids_path.exists())
    identities = _load_identities(ids_path)
    found: list[tuple[str, str, bytes]] = []
    for account, protocol in keys.accounts():
        fp = keys.fingerprint(account, protocol)
        assert fp is not None
        found.append((account, protocol, fp))
    for identity in identities.identities():
        if identity.fingerprint is not None:
            found.append((identity.account, identity.protocol, identity.fingerprint))
    selected = [
        (a, p, fp)
        for a, p, fp in found
        if (args.account is None or a == args.account)
        and (args.protocol is None or p == args.protocol)
    ]
    if not selected:
        if args.account is None:
            raise CommandError(f"{path}: no keys")
        what = args.account + (f" ({args.protocol})" if args.protocol else "")
        raise CommandError(f"no key for {what} in {path}")
    for account, protocol, fp in selected:
        shown = fp.hex() if args.hex else human_fingerprint(fp)
        print(shown if len(selected) == 1 else f"{account}\t{protocol}\t{shown}")
    return 0


def _cmd_trust(args: argparse.Namespace) -> int:
    directory = _key_dir(args)
    path = directory / FINGERPRINTS_FILE
    fps = _load_fingerprints(path)
    fp = _parse_fingerprint(args.fingerprint)
    contexts = sorted(
        {
            (e.account, e.protocol)
            for e in fps.entries()
            if e.username == args.username
            and e.fingerprint == fp
            and (args.account is None or e.account == args.account)
            and (args.protocol is None or e.protocol == args.protocol)
        }
    )
    if len(contexts) > 1:
        listed = ", ".join(f"{a} ({p})" for a, p in contexts)
        raise CommandError(
            f"{args.username} has this fingerprint on {listed}; choose with -a and -p"
        )
    if contexts:
        account, protocol = contexts[0]
    elif args.forget:
        raise CommandError(f"{path}: {args.username} has no such fingerprint")
    elif args.account is None or args.protocol is None:
        raise CommandError(
            f"{args.username} has no such fingerprint yet: give our --account and --protocol "
            "to add it"
        )
    else:
        account, protocol = args.account, args.protocol
    if args.forget:
        fps.remove(account, protocol, args.username, fp)
        state = "forgotten"
    else:
        trust = "" if args.unverified else args.trust_string
        if not args.unverified and not trust:
            raise CommandError("the trust string must not be empty (use --unverified)")
        fps.set_trust(account, protocol, args.username, fp, trust)
        state = _trust_text(trust)
    _key_dir(args, create=True)
    fps.save(path)
    print(f"{args.username} to {account} ({protocol}): {human_fingerprint(fp)}: {state}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    source: Path = args.source.expanduser()
    if not source.is_dir():
        raise CommandError(f"{source}: no such directory")
    paths = {name: source / name for name in (PRIVKEY_FILE, FINGERPRINTS_FILE, INSTAG_FILE)}
    if not any(p.exists() for p in paths.values()):
        raise CommandError(
            f"{source}: no libotr files ({PRIVKEY_FILE}, {FINGERPRINTS_FILE}, {INSTAG_FILE})"
        )
    directory = _key_dir(args)
    if directory.exists() and directory.resolve() == source.resolve():
        raise CommandError(f"{source} is already the key directory")
    # Read and check everything before writing anything.
    their_keys = _load_keys(paths[PRIVKEY_FILE], required=False)
    their_fps = _load_fingerprints(paths[FINGERPRINTS_FILE])
    their_tags = _load_instags(paths[INSTAG_FILE])

    keys_path = directory / PRIVKEY_FILE
    fps_path = directory / FINGERPRINTS_FILE
    tags_path = directory / INSTAG_FILE
    keys = _load_keys(keys_path, required=False)
    fps = _load_fingerprints(fps_path)
    tags = _load_instags(tags_path)

    new_keys = 0
    conflicts = []
    for account, protocol in their_keys.accounts():
        theirs = their_keys.get(account, protocol)
        assert theirs is not None
        ours = keys.get(account, protocol)
        if ours == theirs:
            continue
        if ours is not None and not args.force:
            conflicts.append(f"{account} ({protocol})")
            continue
        keys.set(account, protocol, theirs)
        new_keys += 1
    if conflicts:
        raise CommandError(
            f"we already have a different key for {', '.join(conflicts)}; "
            "use --force to replace ours"
        )
    new_tags = 0
    kept_tags = []
    seen: set[tuple[str, str]] = set()
    # A new account's tag goes first in the file (as in libotr), so walk backwards to keep
    # the source's order; the last line of an account is the one that counts.
    for account, protocol, tag in reversed(their_tags.entries()):
        if (account, protocol) in seen:
            continue
        seen.add((account, protocol))
        ours_tag = tags.get(account, protocol)
        if ours_tag == tag:
            continue
        if ours_tag is not None and not args.force:
            kept_tags.append(f"{account} ({protocol})")
            continue
        tags.set(account, protocol, tag)
        new_tags += 1
    new_fps = fps.add_entries(their_fps.entries())

    _key_dir(args, create=True)
    if new_keys:
        keys.save(keys_path)
    if new_fps:
        fps.save(fps_path)
    if new_tags:
        tags.save(tags_path)
    for what in kept_tags:
        print(f"note: kept our own instance tag for {what}", file=sys.stderr)
    print(
        f"Imported from {source} into {directory}: {new_keys} key(s), "
        f"{new_fps} fingerprint(s), {new_tags} instance tag(s)"
    )
    return 0


_HANDLERS = {
    "generate": _cmd_generate,
    "list": _cmd_list,
    "fingerprint": _cmd_fingerprint,
    "trust": _cmd_trust,
    "import": _cmd_import,
}


def _os_error_text(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename is not None else ""
    if isinstance(e, FileNotFoundError):
        return f"{where}no such file or directory"
    if isinstance(e, PermissionError):
        return f"{where}permission denied"
    return f"{where}{e.strerror or e}"


def run(args: argparse.Namespace) -> int:
    """Run one ``otr keys`` command; 0 on success, 1 (with one line on stderr) on error."""
    try:
        return _HANDLERS[args.keys_command](args)
    except CommandError as e:
        message = str(e)
    except KeyFileError as e:
        message = f"malformed file: {e}"
    except OSError as e:
        message = _os_error_text(e)
    except ValueError as e:  # names that cannot be stored (NUL, tab, newline)
        message = str(e)
    except KeyboardInterrupt:
        print("\notr keys: interrupted", file=sys.stderr)
        return 130
    print(f"otr keys: error: {message}", file=sys.stderr)
    return 1
