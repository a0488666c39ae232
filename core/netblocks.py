"""CIDR blocks as sortable ranges, so "is this address blocked?" is one indexed query.

An address becomes (family, fixed-width hex of its integer); a block is the
(first, last) pair of its network. Equal-width hex strings compare like the
integers, and MongoDB's int64 could not hold an IPv6 address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Block:
    cidr: str  # canonical, e.g. "203.0.113.0/24"
    family: int  # 4 or 6
    first: str
    last: str

    def contains(self, address: str) -> bool:
        family, key = address_key(address)
        return family == self.family and self.first <= key <= self.last


def _unmapped(address: IPAddress) -> IPAddress:
    # An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is the IPv4 client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _hex(address: IPAddress) -> str:
    return format(int(address), "08x" if address.version == 4 else "032x")


def address_key(address: str) -> tuple[int, str]:
    """(family, hex) of an address; raises ValueError if it is not one."""
    parsed = _unmapped(ipaddress.ip_address(address.strip()))
    return parsed.version, _hex(parsed)


def parse_block(text: str) -> Block:
    """A CIDR or a single address; host bits are cleared (10.1.2.3/8 is 10.0.0.0/8).

    Raises ValueError for anything ``ipaddress`` does not accept.
    """
    network = ipaddress.ip_network(text.strip(), strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        # ::ffff:0:0/96 and narrower: store as the IPv4 network they mean.
        prefix = max(network.prefixlen - 96, 0)
        network = ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{prefix}", strict=False)
    return Block(
        cidr=str(network),
        family=network.version,
        first=_hex(network.network_address),
        last=_hex(network.broadcast_address),
    )
