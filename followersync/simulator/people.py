"""Deterministic follower data: realistic items of each provider, drawn from a hash of who they are."""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

_FIRST_NAMES = (
    "Jordan", "Maria", "Wei", "Aisha", "Lukas", "Sofia", "Mateo", "Emma", "Noah", "Olivia", "Liam",
    "Chloé", "Zoë", "José", "Björn", "Søren", "Renée", "François", "Łukasz", "Dragoș", "Ayşe", "İlker",
    "Nguyễn", "Ngozi", "Kwame", "Priya", "Arjun", "Hana", "Yuki", "Min-jun", "Fatima", "Omar", "Chen",
    "Ana", "João", "Mårten", "Eva", "Tomás", "Ines", "Kai", "Leila", "Sven", "Anaïs", "Dmitri", "Olga",
    "Saoirse", "Siobhán", "Thandiwe", "Mei", "Rahul", "Grace", "Ethan", "Isabella", "Amara", "Yusuf",
)  # fmt: skip
_LAST_NAMES = (
    "Walke", "García", "Zhang", "Khan", "Müller", "Rossi", "Fernández", "Smith", "Johnson", "Dubois",
    "Nowak", "Kowalczyk", "Ångström", "O'Brien", "Ní Dhomhnaill", "Núñez", "Yılmaz", "Popescu", "Tanaka",  # noqa: RUF001
    "Kim", "Okafor", "Mensah", "Patel", "Sharma", "Haddad", "Cohen", "Silva", "Santos", "van der Berg",
    "de la Cruz", "Lefèvre", "Søndergaard", "Novák", "Đorđević", "Ivanova", "Nakamura", "Le", "Tran",
    "Schmidt", "Jensen", "Larsen", "Moreau", "Brown", "Wilson", "Abdullah", "Mwangi", "Lindqvist",
)  # fmt: skip
# Whole display names in other scripts, used as-is for a share of followers.
_SCRIPT_NAMES = (
    "李伟", "王芳", "佐藤 花子", "김민준", "Ольга Иванова", "Дмитрий Соколов", "محمد علي", "فاطمة الزهراء",
    "דוד כהן", "Νίκος Παπαδόπουλος", "अर्जुन शर्मा", "สมชาย ใจดี", "Αλεξάνδρα Γεωργίου", "Ελένη Κ.",  # noqa: RUF001
)  # fmt: skip
_EMOJI = ("🚀", "🌍", "✨", "📈", "🎨", "☕", "🌱", "💡", "🏳️‍🌈", "👩‍💻", "🇧🇷", "🔥")
_ROLES = (
    "Software Engineer", "Product Manager", "Head of Growth", "Data Scientist", "Founder", "Co-founder & CEO",
    "Marketing Lead", "Recruiter", "UX Designer", "Sales Director", "CTO", "Student", "Consultant",
    "Staff Engineer", "Community Manager", "Investor", "Gründer", "Ingénieure logicielle", "Desenvolvedor",
)  # fmt: skip
_COMPANIES = (
    "Acme", "Globex", "Initech", "Umbrella Labs", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Müller & Söhne GmbH", "Société Générale Tech", "Nordlys AS", "Zeta Analytics", "Pied Piper",
    "Tyrell Corp", "Soylent", "Vandelay Industries", "Oceanic", "Cyberdyne", "Massive Dynamic",
)  # fmt: skip
_HEADLINE_FORMS = (
    "{role} at {company}",
    "{role} @ {company}",
    "{role} | {company} | Speaker",
    "{role} at {company} {emoji}",
    "Helping teams ship faster · {role}",
    "{role} — ex-{company}",
    "Open to work: {role}",
)
_CDN_HOSTS = ("fra5-1", "lhr8-2", "iad3-1", "gru1-1", "sin6-4", "cdg4-3")
_HANDLE_SEPARATORS = ("", ".", "_", "__", ".")
_HANDLE_WORDS = ("official", "the", "real", "photo", "travels", "studio", "art", "eats", "fit", "design")
_SHARED_EVERY = 16  # one follower in this many comes from the provider-wide pool
_SHARED_SLOT = 5


class _Draw:
    """Deterministic choices from one 512-bit hash: cheap (one blake2b per follower)."""

    __slots__ = ("digest", "state")

    def __init__(self, key: str) -> None:
        self.digest = hashlib.blake2b(key.encode("utf-8"), digest_size=64).digest()
        # Draws take the low-order bits (the digest's last bytes); ids and tokens its first ones.
        self.state = int.from_bytes(self.digest, "big")

    def below(self, n: int) -> int:
        self.state, value = divmod(self.state, n)
        return value

    def pick(self, seq: Sequence[str]) -> str:
        return seq[self.below(len(seq))]

    def chance(self, percent: int) -> bool:
        return self.below(100) < percent

    def token(self, length: int, start: int = 0) -> str:
        """Up to 24 url-safe characters per 18 digest bytes from `start` (ids, URL tokens)."""
        return base64.urlsafe_b64encode(self.digest[start : start + 27]).decode("ascii")[:length]

    def digits(self, length: int, start: int = 0) -> str:
        """Up to 28 decimal digits from 12 digest bytes at `start`."""
        return str(int.from_bytes(self.digest[start : start + 12], "big")).rjust(length, "0")[:length]


# Letters that Unicode does not decompose into an ASCII base letter plus accents.
_TRANSLITERATE = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "\u0131": "i"}
)


def _slug(text: str) -> str:
    ascii_text = (
        unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    return "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))


def _person_key(seed: int, provider: str, account_id: str, user_id: str | None, index: int) -> str:
    if index % _SHARED_EVERY == _SHARED_SLOT:
        # Shared across all listings of the provider (same seed): the same person follows several
        # sources, which the store must record as one profile.
        return f"{seed}\x1fpool\x1f{provider}\x1f{index // _SHARED_EVERY}"
    return f"{seed}\x1f{account_id}\x1f{user_id or ''}\x1f{index}"


def _display_name(d: _Draw) -> str:
    roll = d.below(100)
    if roll < 10:
        return d.pick(_SCRIPT_NAMES)
    name = f"{d.pick(_FIRST_NAMES)} {d.pick(_LAST_NAMES)}"
    if roll < 18:
        name = f"{name} {d.pick(_EMOJI)}"
    elif roll < 21:
        name = f"Dr. {name}"
    elif roll < 23:
        name = f"{name}, PhD"
    return name


def _linkedin_item(key: str) -> dict[str, Any]:
    d = _Draw(key)
    member = "ACoAA" + d.token(34)
    name = _display_name(d)
    slug = _slug(name) or "member"
    media = d.token(20, start=27)
    stamp = 1_600_000_000_000 + d.below(100_000_000_000)
    picture = f"https://media.licdn.com/dms/image/v2/D4E03AQ{media}/profile-displayphoto-shrink_"
    query = f"/0/{stamp}?e=1767225600&v=beta&t={media[::-1]}"
    return {
        "object": "UserFollower",
        "id": member,
        "urn": f"urn:li:fsd_profile:{member}",
        "name": name,
        "headline": d.pick(_HEADLINE_FORMS).format(
            role=d.pick(_ROLES), company=d.pick(_COMPANIES), emoji=d.pick(_EMOJI)
        ),
        "profile_url": f"https://www.linkedin.com/in/{slug}-{member[5:13].lower()}",
        "profile_picture_url": f"{picture}100_100{query}",
        "profile_picture_url_large": f"{picture}800_800{query}",
    }


def _instagram_item(key: str) -> dict[str, Any]:
    d = _Draw(key)
    provider_id = str(1_000_000_000 + int(d.digits(11)))
    name = _display_name(d)
    if d.chance(4):
        name = ""  # Instagram's full_name is optional in the app; the API still sends the field
    base = _slug(name).replace("-", d.pick(_HANDLE_SEPARATORS)) or "user"
    roll = d.below(100)
    if roll < 80:
        username = f"{base[:22]}{d.below(100_000)}"
    elif roll < 90:
        username = f"{base[:20]}_{d.pick(_HANDLE_WORDS)}"
    elif roll < 96:
        username = f"{d.pick(_HANDLE_WORDS)}.{base[:20]}"
    else:
        username = base[:28]
    item: dict[str, Any] = {
        "object": "UserFollower",
        "id": provider_id,
        "messaging_id": "1784" + d.digits(13, start=12),
        "username": username,
        "name": name,
    }
    if not d.chance(8):  # optional in the reference: some followers come without a picture
        item["profile_picture_url"] = (
            f"https://scontent-{d.pick(_CDN_HOSTS)}.cdninstagram.com/v/t51.2885-19/"
            f"{d.digits(9, start=24)}_{d.token(12, start=36)}_n.jpg"
            "?stp=dst-jpg_s150x150&_nc_ht=scontent.cdninstagram.com"
        )
    item["is_private"] = d.chance(30)
    item["is_verified"] = d.chance(2)
    return item


def make_item(
    provider: str, seed: int, account_id: str, user_id: str | None, index: int, attempt: int = 0
) -> dict[str, Any]:
    """The item of follower `index` of a listing, in the provider's variant (`attempt` > 0: another
    person, when the first clashes with one already listed)."""
    key = _person_key(seed, provider, account_id, user_id, index)
    if attempt:
        key = f"{key}\x1f{attempt}"
    return _linkedin_item(key) if provider == "linkedin" else _instagram_item(key)


def other_provider(provider: str) -> str:
    """The provider whose item variant `Fault.wrong_variant` serves instead."""
    return "instagram" if provider == "linkedin" else "linkedin"
