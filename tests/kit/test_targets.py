"""The outbound target guard: which addresses a tenant's host may resolve to, by an explicit
list of blocks, and what a refusal says."""

import asyncio
import ipaddress

import pytest

from outreach.config import Settings
from outreach.kit.targets import (
    TargetGuard,
    TargetRefused,
    TargetUnresolved,
    refusal,
)
from tests.factories import production_settings

ALWAYS_REFUSED = [
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%1", "link-local"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("255.255.255.255", "reserved"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.10", "reserved"),
    ("2001:db8::1", "reserved"),
    ("::ffff:169.254.169.254", "metadata"),  # IPv4-mapped
    ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
    ("2002:a9fe:a9fe::1", "metadata"),  # 6to4 of 169.254.169.254
    ("::ffff:224.0.0.1", "multicast"),
]
PRIVATE = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("100.64.0.1", "CGNAT"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::7f00:1", "loopback"),
    ("2002:7f00:1::", "loopback"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
]
PUBLIC = ["93.184.216.34", "2606:4700::6810:84e5", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"]


@pytest.mark.parametrize(("address", "why"), ALWAYS_REFUSED)
@pytest.mark.parametrize("allow_private", [False, True])
def test_link_local_metadata_and_special_addresses_are_refused_always(
    address: str, why: str, allow_private: bool
) -> None:
    assert why in (refusal(ipaddress.ip_address(address), allow_private=allow_private) or "")


@pytest.mark.parametrize(("address", "why"), PRIVATE)
def test_loopback_private_and_cgnat_are_refused_unless_allowed(address: str, why: str) -> None:
    assert why in (refusal(ipaddress.ip_address(address), allow_private=False) or "")
    assert refusal(ipaddress.ip_address(address), allow_private=True) is None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), allow_private=False) is None


def resolver(answers: dict[str, list[str]]) -> TargetGuard:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"{host}: no such host")
        return answers[host]

    return TargetGuard(allow_private=False, resolve=resolve)


def test_a_name_is_refused_when_any_of_its_addresses_is() -> None:
    guard = resolver({"mixed.example": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(TargetRefused) as refused:
        asyncio.run(guard.addresses("mixed.example", 25))
    # It names the host and the kind of address, never the address itself.
    assert str(refused.value) == (
        "mixed.example resolves to a private address, which outbound connections may not reach"
    )


def test_metadata_names_are_refused_whatever_they_resolve_to() -> None:
    guard = resolver({"metadata.google.internal": ["93.184.216.34"]})
    for name in ("metadata.google.internal", "Metadata.Google.Internal.", "metadata"):
        with pytest.raises(TargetRefused, match="metadata"):
            asyncio.run(guard.addresses(name, 80))


def test_an_unresolvable_name_passes_the_save_check_but_never_connects() -> None:
    guard = resolver({})
    asyncio.run(guard.check("not-yet.example", 25))
    with pytest.raises(TargetUnresolved):
        asyncio.run(guard.addresses("not-yet.example", 25))
    with pytest.raises(TargetUnresolved):
        asyncio.run(guard.connect("not-yet.example", 25))


def test_literal_addresses_are_not_resolved() -> None:
    guard = resolver({})
    assert asyncio.run(guard.addresses("93.184.216.34", 25)) == [
        ipaddress.ip_address("93.184.216.34")
    ]
    with pytest.raises(TargetRefused, match=r"^127\.0\.0\.1 is a loopback address"):
        asyncio.run(guard.addresses("127.0.0.1", 25))


def test_other_spellings_of_an_address_are_judged_by_what_they_resolve_to() -> None:
    guard = TargetGuard(allow_private=False)  # the system resolver: "2130706433" is 127.0.0.1
    with pytest.raises(TargetRefused, match="loopback"):
        asyncio.run(guard.addresses("2130706433", 25))


def test_private_targets_are_allowed_outside_production_or_when_the_operator_says(
    settings: Settings,
) -> None:
    assert TargetGuard.for_settings(settings).allow_private is True
    assert TargetGuard.for_settings(production_settings(settings)).allow_private is False
    allowed = production_settings(settings, allow_private_targets=True)
    assert TargetGuard.for_settings(allowed).allow_private is True
