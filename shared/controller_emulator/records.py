"""Realistic configuration records (accounts, gateways, tunnels, VPN users) generated from a seed.

They give the archive and the read actions believable content, so a human reading a demo or a
failing test sees a network, not noise. No record holds a secret.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

_CLOUDS = (
    # (cloud_type, short name, regions)
    (1, "aws", ("us-east-1", "us-west-2", "eu-central-1", "ap-southeast-1")),
    (4, "gcp", ("us-central1", "europe-west1", "asia-east1")),
    (8, "azure", ("East US", "West Europe", "Southeast Asia")),
)
_ENVIRONMENTS = ("prod", "staging", "shared", "dev", "dmz")
_GW_SIZES = {1: "t3.medium", 4: "n1-standard-2", 8: "Standard_B2ms"}
_FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory")
_LAST = ("smith", "jones", "garcia", "chen", "patel", "novak", "kim", "silva", "berg", "okafor")


@dataclass(frozen=True)
class Records:
    """The four configuration lists a controller holds."""

    accounts: list[Record] = field(default_factory=list)
    gateways: list[Record] = field(default_factory=list)
    tunnels: list[Record] = field(default_factory=list)
    vpn_users: list[Record] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The manifest's `counts` object."""
        return {
            "accounts": len(self.accounts),
            "gateways": len(self.gateways),
            "tunnels": len(self.tunnels),
            "vpn_users": len(self.vpn_users),
        }


def generate_records(seed: int) -> Records:
    """A small, deterministic multi-cloud network for `seed`."""
    rng = random.Random(seed)
    accounts = _accounts(rng)
    gateways = _gateways(rng, accounts)
    return Records(accounts, gateways, _tunnels(rng, gateways), _vpn_users(rng, gateways))


def _accounts(rng: random.Random) -> list[Record]:
    accounts: list[Record] = []
    for index in range(rng.randint(2, 5)):
        cloud_type, cloud, _ = _CLOUDS[index % len(_CLOUDS)]
        name = f"{cloud}-{rng.choice(_ENVIRONMENTS)}-{index + 1}"
        account: Record = {"account_name": name, "cloud_type": cloud_type}
        if cloud_type == 1:
            account["aws_account_number"] = str(rng.randrange(10**11, 10**12))
            account["aws_role_arn"] = f"arn:aws:iam::{account['aws_account_number']}:role/aviatrix-role-app"
        elif cloud_type == 4:
            account["gcloud_project_id"] = f"{name}-{rng.randrange(1000, 9999)}"
        else:
            account["arm_subscription_id"] = _uuid(rng)
        accounts.append(account)
    return accounts


def _gateways(rng: random.Random, accounts: list[Record]) -> list[Record]:
    gateways: list[Record] = []
    for index in range(rng.randint(4, 10)):
        account = accounts[index % len(accounts)]
        cloud_type = account["cloud_type"]
        _, cloud, regions = next(c for c in _CLOUDS if c[0] == cloud_type)
        region = rng.choice(regions)
        role = "transit" if index < 2 else "spoke"
        second = 10 + index
        gateways.append(
            {
                "gw_name": f"{cloud}-{region.lower().replace(' ', '')}-{role}-{index + 1}",
                "account_name": account["account_name"],
                "cloud_type": cloud_type,
                "vpc_id": f"vpc-{rng.getrandbits(68):017x}",
                "vpc_region": region,
                "gw_size": _GW_SIZES[cloud_type],
                "gw_subnet_cidr": f"10.{second}.0.0/24",
                "vpc_cidr": f"10.{second}.0.0/16",
                "private_ip": f"10.{second}.0.{rng.randint(4, 250)}",
                "public_ip": f"203.0.113.{rng.randint(1, 254)}",
                "transit": role == "transit",
                "enable_encrypt_volume": rng.random() < 0.7,
            }
        )
    return gateways


def _tunnels(rng: random.Random, gateways: list[Record]) -> list[Record]:
    tunnels: list[Record] = []
    for index in range(rng.randint(3, 8)):
        gateway = rng.choice(gateways)
        tunnels.append(
            {
                "conn_name": f"s2c-branch-{index + 1:02d}",
                "gw_name": gateway["gw_name"],
                "vpc_id": gateway["vpc_id"],
                "connection_type": rng.choice(("unmapped", "mapped")),
                "tunnel_type": rng.choice(("policy", "route")),
                "remote_gateway_type": rng.choice(("generic", "aws", "azure", "sonicwall")),
                "remote_gateway_ip": f"198.51.100.{rng.randint(1, 254)}",
                "remote_subnet_cidr": f"192.168.{rng.randint(0, 255)}.0/24",
                "local_subnet_cidr": gateway["vpc_cidr"],
                "status": rng.choice(("up", "up", "up", "down")),
            }
        )
    return tunnels


def _vpn_users(rng: random.Random, gateways: list[Record]) -> list[Record]:
    users: list[Record] = []
    for index in range(rng.randint(5, 20)):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        gateway = rng.choice(gateways)
        users.append(
            {
                "username": f"{first}.{last}{index + 1}",
                "user_email": f"{first}.{last}{index + 1}@example.com",
                "vpc_id": gateway["vpc_id"],
                "lb_name": f"{gateway['gw_name']}-vpn-elb",
                "profile": rng.choice(("engineering", "finance", "contractors", "admins")),
            }
        )
    return users


def _uuid(rng: random.Random) -> str:
    raw = f"{rng.getrandbits(128):032x}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
